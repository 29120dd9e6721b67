// Package browser drives the console in Debian's Chromium through the
// DevTools protocol (chromedp) against the real binaries: lachan serve,
// an agent that finds the EICAR test file, and a PC whose host name is
// hostile. Its tests start with TestBrowser; they fail, never skip, when
// CI=true and Chromium is missing. They take a screenshot of each page;
// with LACHAN_SCREENSHOTS=1 (`make screenshots`) they save them to
// docs/console/, where the README shows them.
package browser
