//! `#[pride::main]` and `#[pride::test]`: run an `async fn` on a pride runtime.
//!
//! Use them through the `pride` crate, which re-exports both. The item is read with
//! the compiler's own token trees (no parser crate): the attributes only need to find
//! `async fn name() -> Ret { body }` and their options.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// The attribute behind `pride::main`; its options and examples are documented there.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args, item).unwrap_or_else(|e| e.into_tokens())
}

/// The attribute behind `pride::test`; its options and examples are documented there.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args, item).unwrap_or_else(|e| e.into_tokens())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[pride::main]",
            Kind::Test => "#[pride::test]",
        }
    }
}

/// A compile error at a span.
struct Error {
    span: Span,
    message: String,
}

impl Error {
    fn new(span: Span, message: impl Into<String>) -> Error {
        Error {
            span,
            message: message.into(),
        }
    }

    /// `::core::compile_error!("message")`, pointing at the span.
    fn into_tokens(self) -> TokenStream {
        let span = self.span;
        let mut message = Literal::string(&self.message);
        message.set_span(span);
        let tokens: Vec<TokenTree> = vec![
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("core", span).into(),
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("compile_error", span).into(),
            Punct::new('!', Spacing::Alone).into(),
            Group::new(
                Delimiter::Brace,
                TokenStream::from(TokenTree::from(message)),
            )
            .into(),
        ];
        tokens
            .into_iter()
            .map(|mut t| {
                t.set_span(span);
                t
            })
            .collect()
    }
}

/// The options between the attribute's parentheses.
struct Options {
    workers: Option<u128>,
    clock: Option<String>,
}

fn parse_options(kind: Kind, args: TokenStream) -> Result<Options, Error> {
    let mut options = Options {
        workers: None,
        clock: None,
    };
    let tokens: Vec<TokenTree> = args.into_iter().collect();
    for option in tokens.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
        let (key, value) = match option {
            [] => continue,
            [
                TokenTree::Ident(key),
                TokenTree::Punct(eq),
                TokenTree::Literal(value),
            ] if eq.as_char() == '=' => (key, value),
            [first, ..] => {
                return Err(Error::new(
                    first.span(),
                    format!(
                        "{}: options are written `workers = 4, clock = \"system\"`",
                        kind.name()
                    ),
                ));
            }
        };
        let name = key.to_string();
        let given = match name.as_str() {
            "workers" => options.workers.is_some(),
            "clock" => options.clock.is_some(),
            other => {
                return Err(Error::new(
                    key.span(),
                    format!(
                        "{}: unknown option `{other}`; the options are `workers` and `clock`",
                        kind.name()
                    ),
                ));
            }
        };
        if given {
            return Err(Error::new(
                key.span(),
                format!("{}: `{name}` given twice", kind.name()),
            ));
        }
        let literal = value.to_string();
        if name == "workers" {
            let n = int_value(&literal).filter(|n| *n > 0);
            let Some(n) = n else {
                return Err(Error::new(
                    value.span(),
                    "`workers` takes a whole number of threads, at least 1",
                ));
            };
            options.workers = Some(n);
        } else {
            let clock = str_value(&literal);
            let Some(clock) =
                clock.filter(|c| matches!(c.as_str(), "system" | "mock" | "autojump"))
            else {
                return Err(Error::new(
                    value.span(),
                    "`clock` is \"system\", \"mock\" or \"autojump\"",
                ));
            };
            options.clock = Some(clock);
        }
    }
    Ok(options)
}

/// The value of an integer literal as Rust writes it (`4`, `1_000`, `4usize`, `0x10`);
/// `None` for any other literal (a float, a string, a negative number is not a
/// literal token).
fn int_value(literal: &str) -> Option<u128> {
    const SUFFIXES: [&str; 12] = [
        "usize", "isize", "u128", "i128", "u64", "i64", "u32", "i32", "u16", "i16", "u8", "i8",
    ];
    let literal = SUFFIXES
        .iter()
        .find_map(|s| literal.strip_suffix(s))
        .unwrap_or(literal);
    let (digits, radix) = match literal.get(..2) {
        Some("0x") => (&literal[2..], 16),
        Some("0o") => (&literal[2..], 8),
        Some("0b") => (&literal[2..], 2),
        _ => (literal, 10),
    };
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u128::from_str_radix(&digits, radix).ok()
}

/// The value of a string literal without escapes, plain (`"system"`) or raw
/// (`r"system"`, `r#"system"#`); `None` for any other literal (the option values
/// need no escapes).
fn str_value(literal: &str) -> Option<String> {
    let (inner, fence) = match literal.strip_prefix('r') {
        Some(raw) => {
            let fence = &raw[..raw.len() - raw.trim_start_matches('#').len()];
            (&raw[fence.len()..], fence)
        }
        None if literal.contains('\\') => return None,
        None => (literal, ""),
    };
    let inner = inner
        .strip_prefix('"')?
        .strip_suffix(fence)?
        .strip_suffix('"')?;
    Some(inner.to_owned())
}

/// The parts of `attrs vis async fn name() -> Ret { body }`.
struct Function {
    attrs: Vec<TokenTree>,
    vis: Vec<TokenTree>,
    name: Ident,
    ret: Vec<TokenTree>,
    body: Group,
}

fn parse_function(kind: Kind, item: TokenStream) -> Result<Function, Error> {
    let mut tokens = item.into_iter().peekable();
    let mut attrs = Vec::new();
    while let Some(TokenTree::Punct(p)) = tokens.peek() {
        if p.as_char() != '#' {
            break;
        }
        attrs.push(tokens.next().expect("peeked"));
        match tokens.next() {
            Some(group @ TokenTree::Group(_)) => attrs.push(group),
            Some(other) => return Err(Error::new(other.span(), "expected an attribute")),
            None => return Err(Error::new(Span::call_site(), "expected an attribute")),
        }
    }
    let mut vis = Vec::new();
    if matches!(tokens.peek(), Some(TokenTree::Ident(i)) if i.to_string() == "pub") {
        vis.push(tokens.next().expect("peeked"));
        if matches!(tokens.peek(), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
        {
            vis.push(tokens.next().expect("peeked"));
        }
    }
    let mut is_async = false;
    let fn_span = loop {
        match tokens.next() {
            Some(TokenTree::Ident(i)) if i.to_string() == "async" => is_async = true,
            Some(TokenTree::Ident(i)) if i.to_string() == "fn" => break i.span(),
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    misplaced(kind, &other.to_string()),
                ));
            }
            None => {
                return Err(Error::new(
                    Span::call_site(),
                    format!("{} applies to an `async fn`", kind.name()),
                ));
            }
        }
    };
    if !is_async {
        return Err(Error::new(
            fn_span,
            format!(
                "{} applies to an `async fn`: add `async` before `fn`",
                kind.name()
            ),
        ));
    }
    let name = match tokens.next() {
        Some(TokenTree::Ident(name)) => name,
        other => {
            let span = other.map_or(fn_span, |t| t.span());
            return Err(Error::new(span, "expected the function's name"));
        }
    };
    match tokens.next() {
        Some(TokenTree::Group(args)) if args.delimiter() == Delimiter::Parenthesis => {
            if !args.stream().is_empty() {
                return Err(Error::new(
                    args.span(),
                    format!("{} functions take no arguments", kind.name()),
                ));
            }
        }
        Some(TokenTree::Punct(p)) if p.as_char() == '<' => {
            return Err(Error::new(
                p.span(),
                format!("{} functions cannot be generic", kind.name()),
            ));
        }
        other => {
            let span = other.map_or(name.span(), |t| t.span());
            return Err(Error::new(span, "expected `()` after the function's name"));
        }
    }
    let mut rest: Vec<TokenTree> = tokens.collect();
    let body = match rest.pop() {
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body,
        other => {
            let span = other.map_or(name.span(), |t| t.span());
            return Err(Error::new(span, "expected the function's body"));
        }
    };
    if let Some(w) = rest
        .iter()
        .find(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "where"))
    {
        return Err(Error::new(
            w.span(),
            format!("{} functions cannot have a `where` clause", kind.name()),
        ));
    }
    Ok(Function {
        attrs,
        vis,
        name,
        ret: rest,
        body,
    })
}

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> Result<TokenStream, Error> {
    let options = parse_options(kind, args)?;
    let function = parse_function(kind, item)?;

    let mut builder = String::from("::pride::Runtime::builder()");
    // A count above the runtime's maximum is a compile error (a failed assertion in a
    // constant), instead of `Builder::worker_threads`'s panic at run time. Compared as
    // `u128`, the type it was read in: no count wraps into range on the way.
    let mut check = String::new();
    if let Some(n) = options.workers {
        builder += &format!(".worker_threads({n})");
        let message = format!(
            "pride: a runtime has at most `pride::Builder::MAX_WORKER_THREADS` worker \
             threads; `workers = {n}` was asked for"
        );
        check = format!(
            "const _: () = ::core::assert!({n}u128 <= ::pride::Builder::MAX_WORKER_THREADS as u128, {message:?});"
        );
    }
    let clock = options.clock.as_deref().unwrap_or(match kind {
        Kind::Main => "system",
        Kind::Test => "autojump",
    });
    builder += &format!(".clock(::pride::time::Clock::{clock}())");
    builder += ".build().expect(\"pride: could not start the runtime\")";

    // The user's function becomes an inner `async fn` with the same signature, so its
    // body keeps its spans and its return type needs no inference.
    let mut inner = parse(&check);
    inner.extend(parse("async fn"));
    inner.extend([TokenTree::Ident(function.name.clone())]);
    inner.extend(parse("()"));
    inner.extend(function.ret.iter().cloned());
    inner.extend([TokenTree::Group(function.body)]);
    inner.extend(parse(&format!("{builder}.block_on")));
    let mut call = TokenStream::from(TokenTree::Ident(function.name.clone()));
    call.extend(parse("()"));
    inner.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, call))]);

    let mut out = TokenStream::new();
    if kind == Kind::Test {
        out.extend(parse("#[::core::prelude::v1::test]"));
    }
    out.extend(function.attrs);
    out.extend(function.vis);
    out.extend(parse("fn"));
    out.extend([TokenTree::Ident(function.name)]);
    out.extend(parse("()"));
    out.extend(function.ret);
    out.extend([TokenTree::Group(Group::new(Delimiter::Brace, inner))]);
    Ok(out)
}

/// The error for `word`, found where only `async` or `fn` may stand.
fn misplaced(kind: Kind, word: &str) -> String {
    match word {
        "unsafe" | "const" | "extern" => {
            format!("{} functions cannot be `{word}`", kind.name())
        }
        _ => format!("{} applies to an `async fn`", kind.name()),
    }
}

fn parse(code: &str) -> TokenStream {
    code.parse().expect("generated code is valid Rust")
}

#[cfg(test)]
mod tests {
    use super::{Kind, int_value, misplaced, str_value};

    #[test]
    fn a_qualifier_the_attribute_refuses_is_named() {
        assert_eq!(
            misplaced(Kind::Test, "unsafe"),
            "#[pride::test] functions cannot be `unsafe`"
        );
        assert_eq!(
            misplaced(Kind::Main, "const"),
            "#[pride::main] functions cannot be `const`"
        );
        assert_eq!(
            misplaced(Kind::Test, "extern"),
            "#[pride::test] functions cannot be `extern`"
        );
        assert_eq!(
            misplaced(Kind::Test, "struct"),
            "#[pride::test] applies to an `async fn`"
        );
    }

    #[test]
    fn integer_literals_in_every_spelling() {
        assert_eq!(int_value("4"), Some(4));
        assert_eq!(int_value("1_000"), Some(1000));
        assert_eq!(int_value("4usize"), Some(4));
        assert_eq!(int_value("8_u32"), Some(8));
        assert_eq!(int_value("0x10"), Some(16));
        assert_eq!(int_value("0b1_01"), Some(5));
        assert_eq!(int_value("0o17"), Some(15));
        for not_an_integer in ["1.5", "1e3", "4f32", "\"4\"", "0x", "_"] {
            assert_eq!(int_value(not_an_integer), None, "{not_an_integer}");
        }
    }

    #[test]
    fn string_literals_plain_and_raw() {
        assert_eq!(str_value("\"system\"").as_deref(), Some("system"));
        assert_eq!(str_value("r\"system\"").as_deref(), Some("system"));
        assert_eq!(str_value("r##\"mock\"##").as_deref(), Some("mock"));
        assert_eq!(str_value("r#\"\"mock\"\"#").as_deref(), Some("\"mock\""));
        let refused = [
            "b\"system\"",
            "c\"system\"",
            "'s'",
            "4",
            "r#\"x\"",
            r#""sys\x74em""#,
        ];
        for not_a_string in refused {
            assert_eq!(str_value(not_a_string), None, "{not_a_string}");
        }
    }
}
