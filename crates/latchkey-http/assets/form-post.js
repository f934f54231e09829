// Submits the answer on Latchkey's form_post page (OAuth 2.0 Form Post
// Response Mode) as soon as the page is read. Served as a file so that the
// page's Content-Security-Policy needs no inline script.
document.forms[0].submit();
