// The console's sign-in: keeps the agent's key in a strict same-site cookie, which the
// server accepts instead of an Authorization header, then opens the console.
"use strict";
document.getElementById("signin").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const key = document.getElementById("key").value.trim();
  if (!/^[A-Za-z0-9_\-.]+$/.test(key)) {
    alert("That does not look like an API key.");
    return;
  }
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "triage_key=" + key + "; Path=/; SameSite=Strict; Max-Age=43200" + secure;
  location.assign("/console");
});
