// Package web serves the browser faces of callverify from files embedded in
// the binary: the console for analysts, dialers and admins (/console/), the
// customer's check page (/check/) and what both share (/assets/), and, only
// when the server runs with --dev, a route that mints development tokens.
//
// The pages speak the public REST API alone, with the bearer token the user
// gave them; this package never sees a token but the ones it mints. It must
// never serve inline script or style, load anything from another origin, or
// put data into a page as HTML: every response carries a strict
// Content-Security-Policy, and the scripts write values with textContent.
package web
