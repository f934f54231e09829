// Runs a passkey (WebAuthn) ceremony for Latchkey's pages. Served as a file
// so that the pages' Content-Security-Policy (script-src 'self') needs no
// inline script.
//
// Markup: a button (or a form) carries
//   data-passkey-options   the options JSON from the server, as webauthn-rs
//                          serialises them: {"publicKey": {...}} with
//                          base64url binary fields;
//   data-passkey-ceremony  "create" (registration) or "get" (sign-in).
// On click (or submit) the script asks the browser for the credential,
// writes the answer, in the JSON shape webauthn-rs reads
// (RegisterPublicKeyCredential / PublicKeyCredential, binary fields as
// base64url), into the form's hidden input name="credential" and submits
// the form: the button's form, or the one named by its `form` attribute.
// A failure is shown in the form's element with role="alert".
//
// Checked against Chromium's virtual authenticator (DevTools protocol):
//   WebAuthn.enable {enableUI: false}
//   WebAuthn.addVirtualAuthenticator {options: {protocol: "ctap2",
//     ctap2Version: "ctap2_1", transport: "internal", hasResidentKey: true,
//     hasUserVerification: true, isUserVerified: true,
//     automaticPresenceSimulation: true}}
// on a page served from http://localhost:PORT with the issuer set to that
// origin (see crates/latchkey-core/src/support/webauthn.rs).
(function () {
  "use strict";

  function toBytes(b64url) {
    var s = String(b64url).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: toBytes(c.id) };
      if (c.transports) d.transports = c.transports;
      return d;
    });
  }

  // The server's JSON options, with binary fields as ArrayBuffers.
  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey || o);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    if (pk.excludeCredentials) pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey || o);
    pk.challenge = toBytes(pk.challenge);
    if (pk.allowCredentials) pk.allowCredentials = descriptors(pk.allowCredentials);
    // The ceremony starts from a click: the browser's modal passkey
    // picker, not conditional (autofill) mediation.
    return { publicKey: pk };
  }

  // Client extension results that webauthn-rs reads; anything else (and
  // any binary output) is left out.
  function extensions(cred) {
    var r = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
    var out = {};
    if (typeof r.appid === "boolean") out.appid = r.appid;
    if (r.credProps && typeof r.credProps.rk === "boolean") out.credProps = { rk: r.credProps.rk };
    return out;
  }

  function registration(cred) {
    var transports = cred.response.getTransports ? cred.response.getTransports() : [];
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64url(cred.response.attestationObject),
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        transports: transports
      },
      extensions: extensions(cred)
    };
  }

  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle && r.userHandle.byteLength ? toB64url(r.userHandle) : null
      },
      extensions: extensions(cred)
    };
  }

  function message(err) {
    if (err && err.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Try again.";
    }
    if (err && err.name === "InvalidStateError") {
      return "This passkey is already registered.";
    }
    if (err && err.name === "SecurityError") {
      return "Passkeys are not available on this address.";
    }
    return "The passkey could not be used" + (err && err.message ? ": " + err.message : ".");
  }

  function formOf(el) {
    if (el.tagName === "FORM") return el;
    return el.form || el.closest("form");
  }

  function showError(form, el, err) {
    var alert = (form && form.querySelector('[role="alert"]')) || document.querySelector('[role="alert"]');
    if (alert) {
      alert.textContent = message(err);
      alert.hidden = false;
    }
    el.disabled = false;
  }

  function run(el) {
    var form = formOf(el);
    var ceremony = el.getAttribute("data-passkey-ceremony");
    var options;
    try {
      options = JSON.parse(el.getAttribute("data-passkey-options"));
    } catch (e) {
      showError(form, el, e);
      return;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError(form, el, { message: "this browser does not support passkeys" });
      return;
    }
    el.disabled = true;
    var p = ceremony === "create"
      ? navigator.credentials.create(creationOptions(options)).then(registration)
      : navigator.credentials.get(requestOptions(options)).then(assertion);
    p.then(function (json) {
      var input = form.querySelector('input[name="credential"]');
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "credential";
        form.appendChild(input);
      }
      input.value = JSON.stringify(json);
      // submit() skips the submit event, so a form-level handler does not
      // run the ceremony again.
      HTMLFormElement.prototype.submit.call(form);
    }).catch(function (err) {
      showError(form, el, err);
    });
  }

  function bind() {
    var els = document.querySelectorAll("[data-passkey-options]");
    for (var i = 0; i < els.length; i++) {
      (function (el) {
        var ev = el.tagName === "FORM" ? "submit" : "click";
        el.addEventListener(ev, function (e) {
          e.preventDefault();
          run(el);
        });
      })(els[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
  } else {
    bind();
  }
})();
