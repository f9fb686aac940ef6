// Light enhancement only: the switcher applies on change; every page works without this file.
document.addEventListener("change", (e) => {
  if (e.target && e.target.id === "scope-select") { e.target.form.submit(); }
});
