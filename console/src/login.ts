// The login page: posts the token once; the server answers with an
// HttpOnly cookie, so no script of this app ever holds the token again.
const form = document.getElementById("login-form") as HTMLFormElement;
const error = document.getElementById("login-error") as HTMLParagraphElement;

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = (document.getElementById("token") as HTMLInputElement).value.trim();
  const r = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
    credentials: "same-origin",
  });
  if (r.ok) {
    window.location.assign("/#/lineage");
    if (window.location.pathname === "/") window.location.reload();
  } else {
    const body = await r.json().catch(() => ({ error: "" }));
    error.textContent = `Refused: ${body.error || "that token does not open this console"}.`;
    error.hidden = false;
  }
});
