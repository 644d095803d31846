// Progressive enhancement for the address on the landing and pending pages:
// the address already sits in a readonly input that can be selected and
// copied by hand. This only reveals a working "Copy" button. Its labels come
// from the page (data-done), so this file holds no text of its own.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    var label = button.textContent;
    var done = button.getAttribute("data-done") || label;
    input.addEventListener("focus", function () {
      input.select();
    });
    button.hidden = false;
    button.addEventListener("click", function () {
      input.select();
      var copied;
      if (navigator.clipboard && window.isSecureContext) {
        copied = navigator.clipboard.writeText(input.value);
      } else {
        copied = document.execCommand("copy") ? Promise.resolve() : Promise.reject();
      }
      copied.then(function () {
        button.textContent = done;
        setTimeout(function () {
          button.textContent = label;
        }, 2000);
      }, function () {
        // The text stays selected, ready for Ctrl+C.
      });
    });
  });
})();
