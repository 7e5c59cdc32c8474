// The console's sign-in: sends the agent's key once to POST /console/session, which
// checks it and sets it as an HttpOnly, strict same-site cookie (no script on these
// pages can read it back), then opens the console.
"use strict";
document.getElementById("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = document.getElementById("key").value.trim();
  if (!/^[A-Za-z0-9_\-.]+$/.test(key)) {
    alert("That does not look like an API key.");
    return;
  }
  const resp = await fetch("/console/session", {
    method: "POST",
    headers: { Authorization: "Bearer " + key },
    credentials: "same-origin",
  });
  if (resp.status === 204) {
    location.assign("/console");
  } else if (resp.status === 403) {
    alert("This key may not open the console: it needs the agent role.");
  } else {
    alert("The server did not accept this key.");
  }
});
