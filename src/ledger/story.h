// What ties a ledger record to one execution's story (issues 20 and 22). The
// console's lineage graph (console/ledger_index.h, Story) and `execgov
// ledger show --jti` read the same two keys here, so the two never disagree
// about which records belong to an execution:
//   - the object uid (`object.uid`): an ExecutionRequest's admission records
//     and execution steps, and what the authority's side wrote about it.
//     The webhook's `approval` records are written when an ExecutionApproval
//     is created, before any grant exists, so they carry no jti: their
//     `object` is the request approved, by uid (authority/approval.h). The
//     authority's `grant` and `denial` name the request the same way.
//   - the artifact jti: `artifact.jti` of admission and execution records,
//     and a `grant`'s own `jti`, the artifact it is about to sign (written
//     before the artifact exists, so it has no `artifact` member).
// Pure; the caller bounds the record (the ledger's own limits).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace execgov::ledger {

// `object.uid`, or "".
std::string StoryUid(const nlohmann::json& record);
// `artifact.jti`, a grant's `jti`, or "".
std::string StoryJti(const nlohmann::json& record);
// Whether the record's keys may bring further records into a story. A
// refused record (`decision` "denied") belongs to the story of what it
// presented, but links nothing more: a replay of another execution's jti,
// or an approval refused for naming a request, must not make the replaying
// object's or the approver's other doings part of this execution.
bool StoryFollows(const nlohmann::json& record);

}  // namespace execgov::ledger
