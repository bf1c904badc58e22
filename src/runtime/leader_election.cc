#include "runtime/leader_election.h"

#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"

namespace execgov::runtime {
namespace {

using nlohmann::json;
using TimePoint = std::chrono::system_clock::time_point;

// metav1.MicroTime: the API server parses exactly six fractional digits.
std::string MicroTime(TimePoint t) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  auto secs = TimePoint(std::chrono::seconds(micros / 1000000));
  std::string base = FormatRfc3339(secs);  // "...:SSZ"
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros % 1000000));
  return base.substr(0, base.size() - 1) + frac + "Z";
}

int64_t Seconds(std::chrono::milliseconds d) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(d.count() / 1000.0)));
}

}  // namespace

std::string DefaultIdentity() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == 0) std::snprintf(host, sizeof host, "unknown");
  return std::string(host) + "_" + crypto::HexEncode(crypto::RandomBytes(8));
}

struct LeaderElector::Impl {
  LeaderElector* self;
  kube::Client* client;
  LeaderElectionConfig config;
  const Clock* clock;
  std::function<void()> on_started, on_stopped;
  std::string collection, path;

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  std::thread thread;
  std::mt19937_64 rng{std::random_device{}()};

  // What this candidate last saw of the lease, and when (by its own clock):
  // expiry is judged from when the record last changed here, not from the
  // holder's renewTime, so clock skew between processes does not matter
  // (as client-go does).
  std::string observed_spec;
  TimePoint observed_time{};
  int64_t observed_duration_s = 0;
  std::string observed_holder;
  mutable std::mutex holder_mu;  // guards holder, which Holder() reads from any thread
  std::string holder;

  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu);
    return !cv.wait_for(l, d, [&] { return stop.load(); });
  }

  std::chrono::milliseconds RetryWait() {
    // 80-100% of retry_period, so candidates do not march in step.
    auto p = config.retry_period.count();
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(p * 4 / 5, p)(rng));
  }

  void Observe(const json& lease, TimePoint now) {
    const json spec = lease.contains("spec") && lease["spec"].is_object() ? lease["spec"] : json::object();
    std::string dumped = spec.dump();
    if (dumped != observed_spec) {
      observed_spec = dumped;
      observed_time = now;
    }
    observed_holder = spec.contains("holderIdentity") && spec["holderIdentity"].is_string()
                          ? spec["holderIdentity"].get<std::string>()
                          : "";
    {
      std::lock_guard<std::mutex> l(holder_mu);
      holder = observed_holder;
    }
    observed_duration_s = spec.contains("leaseDurationSeconds") && spec["leaseDurationSeconds"].is_number_integer()
                              ? spec["leaseDurationSeconds"].get<int64_t>()
                              : Seconds(config.lease_duration);
  }

  // One attempt to become or stay the holder. True when this candidate
  // holds a freshly renewed lease.
  bool TryAcquireOrRenew() {
    const TimePoint now = clock->Now();
    auto got = client->Get(path);
    if (!got.ok() && got.status().code() == StatusCode::kNotFound) {
      json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", config.lease_name}, {"namespace", config.lease_namespace}}},
                    {"spec",
                     {{"holderIdentity", config.identity},
                      {"leaseDurationSeconds", Seconds(config.lease_duration)},
                      {"acquireTime", MicroTime(now)},
                      {"renewTime", MicroTime(now)},
                      {"leaseTransitions", 0}}}};
      // Of racing creators one wins; the others get AlreadyExists.
      return Landed(client->Create(collection, lease), StatusCode::kAlreadyExists, now);
    }
    if (!got.ok()) {
      log::Warn("leader election: reading the lease failed", {{"lease", path}, {"error", got.status().ToString()}});
      return false;
    }
    json lease = std::move(*got);
    Observe(lease, now);
    const bool mine = observed_holder == config.identity;
    if (!mine && !observed_holder.empty() && now < observed_time + std::chrono::seconds(observed_duration_s)) {
      return false;  // held by another, and not expired as far as we can tell
    }
    json& spec = lease["spec"];
    if (!spec.is_object()) spec = json::object();
    if (!mine) {
      int64_t transitions = spec.contains("leaseTransitions") && spec["leaseTransitions"].is_number_integer()
                                ? spec["leaseTransitions"].get<int64_t>()
                                : 0;
      spec["holderIdentity"] = config.identity;
      spec["acquireTime"] = MicroTime(now);
      spec["leaseTransitions"] = transitions + 1;
    }
    spec["renewTime"] = MicroTime(now);
    spec["leaseDurationSeconds"] = Seconds(config.lease_duration);
    // Guarded by the resourceVersion just read: of racing candidates only
    // one write lands, the others get 409 Conflict.
    return Landed(client->Update(path, lease), StatusCode::kAborted, now);
  }

  // Whether a write of the lease landed; a lost race (`race`) is routine,
  // anything else is worth a log line.
  bool Landed(const StatusOr<json>& written, StatusCode race, TimePoint now) {
    if (!written.ok()) {
      if (written.status().code() != race) {
        log::Warn("leader election: writing the lease failed", {{"lease", path}, {"error", written.status().ToString()}});
      }
      return false;
    }
    Observe(*written, now);
    return true;
  }

  // Gives the lease up so a successor need not wait it out: no holder, and
  // a one-second duration for candidates that read the old record.
  void Release() {
    auto got = client->Get(path);
    if (!got.ok()) return;
    json lease = std::move(*got);
    if (!lease.contains("spec") || !lease["spec"].is_object() ||
        lease["spec"].value("holderIdentity", "") != config.identity) {
      return;
    }
    const TimePoint now = clock->Now();
    lease["spec"].erase("holderIdentity");
    lease["spec"]["leaseDurationSeconds"] = 1;
    lease["spec"]["renewTime"] = MicroTime(now);
    lease["spec"]["acquireTime"] = MicroTime(now);
    auto r = client->Update(path, lease);
    if (!r.ok()) log::Warn("leader election: releasing the lease failed", {{"lease", path}, {"error", r.status().ToString()}});
  }

  void SetLeader(bool leading) {
    if (self->leader_.exchange(leading) == leading) return;
    log::Info(leading ? "leader election: leading" : "leader election: stopped leading",
              {{"lease", path}, {"identity", config.identity}});
    const auto& cb = leading ? on_started : on_stopped;
    if (cb) cb();
  }

  // LeaderElectionConfig::observe_only: reads, never writes.
  void Follow() {
    std::string last_error;
    while (!stop.load()) {
      auto got = client->Get(path);
      if (got.ok()) {
        Observe(*got, clock->Now());
        last_error.clear();
      } else if (got.status().code() == StatusCode::kNotFound) {
        std::lock_guard<std::mutex> l(holder_mu);
        holder.clear();
      } else if (got.status().message() != last_error) {  // once per cause, not every period
        last_error = got.status().message();
        log::Warn("leader election: reading the lease failed", {{"lease", path}, {"error", got.status().ToString()}});
      }
      if (!Sleep(config.retry_period)) break;
    }
  }

  void Run() {
    if (config.observe_only) return Follow();
    std::future<bool> inflight;  // a renewal that outlived its deadline
    while (!stop.load()) {
      if (inflight.valid()) inflight.wait();
      if (!TryAcquireOrRenew()) {
        if (!Sleep(RetryWait())) break;
        continue;
      }
      TimePoint last_renew = clock->Now();
      SetLeader(true);
      while (Sleep(config.retry_period)) {
        // The renewal runs beside this loop so that a hung request cannot
        // keep us leading past renew_deadline.
        inflight = std::async(std::launch::async, [this] { return TryAcquireOrRenew(); });
        const auto deadline = last_renew + config.renew_deadline;
        const auto left = deadline - clock->Now();
        bool renewed = false;
        if (inflight.wait_for(std::max(left, std::chrono::system_clock::duration::zero())) ==
            std::future_status::ready) {
          renewed = inflight.get();
        }
        if (renewed) {
          last_renew = clock->Now();
          continue;
        }
        // Another holder is acting already: stop at once. Otherwise keep
        // trying until the deadline.
        bool taken = !inflight.valid() && !observed_holder.empty() && observed_holder != config.identity;
        if (taken || clock->Now() >= deadline) {
          log::Warn("leader election: lost the lease", {{"lease", path}, {"holder", observed_holder}});
          SetLeader(false);
          break;
        }
      }
      if (stop.load()) break;
    }
    if (inflight.valid()) inflight.wait();
    // Stop acting before letting a successor in. Release even when not
    // leading: a renewal that outlived its deadline may still have written
    // this identity into the lease (Release checks the holder).
    SetLeader(false);
    if (config.release_on_cancel) Release();
  }
};

LeaderElector::LeaderElector(kube::Client* client, LeaderElectionConfig config,
                             std::function<void()> on_started_leading, std::function<void()> on_stopped_leading)
    : impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  impl_->client = client;
  if (config.identity.empty()) config.identity = DefaultIdentity();
  impl_->clock = config.clock ? config.clock : &SystemClock::Get();
  impl_->collection = kube::ResourcePath("coordination.k8s.io/v1", "leases", config.lease_namespace);
  impl_->path = kube::ResourcePath("coordination.k8s.io/v1", "leases", config.lease_namespace, config.lease_name);
  impl_->config = std::move(config);
  impl_->on_started = std::move(on_started_leading);
  impl_->on_stopped = std::move(on_stopped_leading);
}

LeaderElector::~LeaderElector() { Stop(); }

std::string LeaderElector::Holder() const {
  if (IsLeader()) return impl_->config.identity;
  std::lock_guard<std::mutex> l(impl_->holder_mu);
  return impl_->holder;
}

void LeaderElector::Start() {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace execgov::runtime
