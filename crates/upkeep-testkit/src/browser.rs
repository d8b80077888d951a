//! A real browser for tests of the HTML pages upkeep writes: headless Chromium (the
//! Debian package `chromium`) loads the page from disk and prints the DOM it built
//! (`--dump-dom`), and [`Dom`] reads that back so that a test can check what is on the
//! page — the text of a cell, a link's `href`, that a hostile string became text and
//! not an element — rather than the bytes of the file.
//!
//! Chromium serializes its DOM by the HTML standard's serialization algorithm (every
//! attribute value double-quoted, `&`, `<`, `>` escaped in text, `&` and `"` in
//! attributes), so the small reader here needs to understand only that form; it is not
//! a general HTML parser and does not need to be one: the browser did the parsing.
//!
//! Where Chromium is missing, [`chromium`] fails the test with the install command
//! when `CI` is set, and otherwise says the test was skipped.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How to install the browser on Debian (what `.ci/run` does).
pub const INSTALL: &str = "apt-get install -y --no-install-recommends chromium";

/// Where to look for the browser: `UPKEEP_CHROMIUM`, then Debian's path, then PATH.
#[expect(
    clippy::disallowed_methods,
    reason = "test set-up: the machine says where its browser is"
)]
fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UPKEEP_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let debian = Path::new("/usr/bin/chromium");
    if debian.exists() {
        return Some(debian.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

#[expect(
    clippy::disallowed_methods,
    reason = "test set-up: CI says it is CI through its environment"
)]
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The browser, or `None` when it is not installed and this is not CI (the test should
/// return: it says on stderr that it was skipped). On CI (`CI` set) a missing browser
/// fails the test with the command that installs it.
#[must_use]
#[allow(clippy::print_stderr)] // Saying that a test was skipped is the point.
pub fn chromium(test: &str) -> Option<PathBuf> {
    match find() {
        Some(p) => Some(p),
        None if on_ci() => {
            panic!("{test}: headless Chromium is needed and not installed; run `{INSTALL}`")
        }
        None => {
            eprintln!("{test}: SKIPPED — headless Chromium is not installed (`{INSTALL}`)");
            None
        }
    }
}

/// Loads `page` in headless Chromium and returns the DOM it built, serialized. A fresh
/// profile in a temporary directory, no network beyond what the page asks for (nothing,
/// for upkeep's pages), no sandbox (tests run as root in containers); killed after
/// `timeout`.
#[must_use]
pub fn dump_dom(chromium: &Path, page: &Path, timeout: Duration) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = url::Url::from_file_path(std::path::absolute(page).expect("absolute page path"))
        .expect("file URL");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            // The whole group: Chromium's helpers too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("chromium did not finish within {timeout:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().unwrap_or_default();
    let log = err.join().unwrap_or_default();
    assert!(
        status.success() && dom.contains("<html"),
        "chromium failed on {url} ({status}):\n{log}"
    );
    dom
}

/// A node of the DOM as Chromium serialized it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Text, with character references decoded.
    Text(String),
}

/// An element: its tag name, attributes (values decoded) and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Lowercase tag name.
    pub tag: String,
    /// Attributes in document order.
    pub attrs: Vec<(String, String)>,
    /// Children in document order.
    pub children: Vec<Node>,
}

impl Element {
    /// An attribute's value.
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the `class` attribute lists `class`.
    #[must_use]
    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }

    /// The text content (all descendant text, in order).
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }

    /// Every descendant element, depth first, in document order.
    #[must_use]
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        for child in &self.children {
            if let Node::Element(e) = child {
                out.push(e);
                out.extend(e.descendants());
            }
        }
        out
    }

    /// Descendant elements that match `pred`.
    #[must_use]
    pub fn find_all(&self, pred: impl Fn(&Element) -> bool) -> Vec<&Element> {
        self.descendants().into_iter().filter(|e| pred(e)).collect()
    }

    /// The first descendant element that matches `pred`.
    #[must_use]
    pub fn find(&self, pred: impl Fn(&Element) -> bool) -> Option<&Element> {
        self.descendants().into_iter().find(|e| pred(e))
    }

    /// The descendant with this `id`.
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<&Element> {
        self.find(|e| e.attr("id") == Some(id))
    }

    /// Descendants with this tag name.
    #[must_use]
    pub fn by_tag(&self, tag: &str) -> Vec<&Element> {
        self.find_all(|e| e.tag == tag)
    }
}

/// The DOM of a page: a document element holding `<html>`.
#[derive(Debug, Clone)]
pub struct Dom {
    /// A synthetic root (`tag` empty) whose children are the top-level nodes.
    pub root: Element,
}

const VOID: [&str; 13] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

impl Dom {
    /// Reads Chromium's serialization of a DOM.
    #[must_use]
    pub fn parse(serialized: &str) -> Self {
        let mut stack: Vec<Element> = vec![Element::default()];
        let mut rest = serialized;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("<!--") {
                rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            } else if rest.starts_with("<!") {
                rest = rest.find('>').map_or("", |i| &rest[i + 1..]);
            } else if let Some(after) = rest.strip_prefix("</") {
                let end = after.find('>').unwrap_or(after.len());
                let tag = after[..end].trim().to_ascii_lowercase();
                rest = after.get(end + 1..).unwrap_or("");
                // Close up to the matching element (serializations are well nested).
                while stack.len() > 1 {
                    let done = stack.pop().expect("open element");
                    let matched = done.tag == tag;
                    push_child(&mut stack, Node::Element(done));
                    if matched {
                        break;
                    }
                }
            } else if rest.starts_with('<')
                && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic())
            {
                let (element, after) = open_tag(&rest[1..]);
                rest = after;
                if VOID.contains(&element.tag.as_str()) {
                    push_child(&mut stack, Node::Element(element));
                } else if element.tag == "style" || element.tag == "script" {
                    let close = format!("</{}>", element.tag);
                    let end = rest.find(&close).unwrap_or(rest.len());
                    let mut element = element;
                    element.children.push(Node::Text(rest[..end].to_owned()));
                    rest = rest.get(end + close.len()..).unwrap_or("");
                    push_child(&mut stack, Node::Element(element));
                } else {
                    stack.push(element);
                }
            } else {
                // Text runs to the next tag; a lone `<` (not a tag) is part of it.
                let first = rest.chars().next().map_or(1, char::len_utf8);
                let end = rest[first..].find('<').map_or(rest.len(), |i| i + first);
                push_child(&mut stack, Node::Text(decode(&rest[..end])));
                rest = &rest[end..];
            }
        }
        while stack.len() > 1 {
            let done = stack.pop().expect("open element");
            push_child(&mut stack, Node::Element(done));
        }
        Self {
            root: stack.pop().expect("root"),
        }
    }

    /// The `<body>` element.
    #[must_use]
    pub fn body(&self) -> &Element {
        self.root
            .find(|e| e.tag == "body")
            .expect("a document has a body")
    }
}

fn push_child(stack: &mut [Element], node: Node) {
    if let Some(parent) = stack.last_mut() {
        parent.children.push(node);
    }
}

/// Reads `tag attr="v" …>` (after the `<`); returns the element and the rest.
fn open_tag(s: &str) -> (Element, &str) {
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(s.len());
    let mut element = Element {
        tag: s[..name_end].to_ascii_lowercase(),
        ..Element::default()
    };
    let mut rest = &s[name_end..];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if let Some(after) = rest.strip_prefix('>') {
            return (element, after);
        }
        if rest.is_empty() {
            return (element, rest);
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        let value = if let Some(after) = rest.strip_prefix("=\"") {
            let end = after.find('"').unwrap_or(after.len());
            rest = after.get(end + 1..).unwrap_or("");
            decode(&after[..end])
        } else {
            String::new()
        };
        element.attrs.push((name, value));
    }
}

/// Decodes the character references a serialization uses (`&amp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&nbsp;`, numeric).
fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &after[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "nbsp" => Some('\u{a0}'),
                n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            }?;
            Some((c, e + 1))
        });
        if let Some((c, len)) = decoded {
            out.push(c);
            rest = &after[len..];
        } else {
            out.push('&');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_serialized_dom() {
        let dom = Dom::parse(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>td > a { x: \"<\" }</style></head><body><table><tbody><tr id=\"r\" data-x=\"a&quot;b&amp;c\"><td class=\"cell done\">&lt;img src=x&gt; ✓<br>x</td></tr></tbody></table><!-- c --><a href=\"https://x/?a=1&amp;b=2\">#1</a>\n</body></html>",
        );
        let row = dom.root.by_id("r").unwrap();
        assert_eq!(row.attr("data-x"), Some("a\"b&c"));
        let td = row.find(|e| e.has_class("done")).unwrap();
        assert_eq!(td.text(), "<img src=x> ✓x");
        assert!(dom.body().by_tag("img").is_empty());
        assert_eq!(dom.body().by_tag("br").len(), 1);
        let a = &dom.body().by_tag("a")[0];
        assert_eq!(a.attr("href"), Some("https://x/?a=1&b=2"));
        assert_eq!(a.text(), "#1");
        assert_eq!(dom.root.by_tag("style")[0].text(), "td > a { x: \"<\" }");
    }
}
