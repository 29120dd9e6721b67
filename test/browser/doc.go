// Package browser drives the console in Debian's Chromium through the
// DevTools protocol (chromedp) against the real binaries: lachan serve,
// an agent that finds the EICAR test file, and a PC whose host name is
// hostile. Its tests start with TestBrowser; they fail, never skip, when
// CI=true and Chromium is missing. They save a screenshot of each page
// to docs/console/, where the README shows them.
package browser
