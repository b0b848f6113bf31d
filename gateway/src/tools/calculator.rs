//! `calculator`: evaluates arithmetic safely. Numbers, `+ - * / % ^`, parentheses and unary signs only;
//! no names, no functions, bounded length and nesting, and a finite result or an error.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Tool, ToolContext};

/// The calculator tool: `{"expression": "2 + 3 * 4"}` -> `{"expression": ..., "value": 14}`.
pub struct Calculator;

const MAX_LENGTH: usize = 256;
const MAX_DEPTH: usize = 32;

impl Tool for Calculator {
    fn name(&self) -> &'static str {
        "calculator"
    }

    fn call<'a>(&'a self, params: &'a Value, _: &'a ToolContext) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let expression = params["expression"].as_str().ok_or("`expression` must be a string")?;
            let value = evaluate(expression)?;
            Ok(json!({ "expression": expression, "value": value }))
        })
    }
}

/// Evaluates an arithmetic expression.
pub fn evaluate(expression: &str) -> Result<f64, String> {
    if expression.len() > MAX_LENGTH {
        return Err(format!("expression longer than {MAX_LENGTH} characters"));
    }
    let mut parser = Parser {
        chars: expression.chars().filter(|c| !c.is_whitespace()).collect(),
        at: 0,
        depth: 0,
    };
    if parser.chars.is_empty() {
        return Err("empty expression".into());
    }
    let value = parser.sum()?;
    if parser.at < parser.chars.len() {
        return Err(format!("unexpected `{}`", parser.chars[parser.at]));
    }
    if value.is_finite() {
        Ok(value)
    } else {
        Err("the result is not a finite number".into())
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut value = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.at += 1;
            let rhs = self.product()?;
            value = if op == '+' { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut value = self.unary()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.at += 1;
            let rhs = self.unary()?;
            if op != '*' && rhs == 0.0 {
                return Err("division by zero".into());
            }
            value = match op {
                '*' => value * rhs,
                '/' => value / rhs,
                _ => value % rhs,
            };
        }
        Ok(value)
    }

    /// Signs bind looser than `^`, as in mathematics: `-2^2` is -4.
    fn unary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some('-') => {
                self.at += 1;
                Ok(-self.nested(Self::unary)?)
            }
            Some('+') => {
                self.at += 1;
                self.nested(Self::unary)
            }
            _ => self.power(),
        }
    }

    /// `^` is right-associative and its exponent may carry a sign: `2^3^2` is 512, `2^-1` is 0.5.
    fn power(&mut self) -> Result<f64, String> {
        let base = self.atom()?;
        if self.peek() == Some('^') {
            self.at += 1;
            let exponent = self.nested(Self::unary)?;
            return Ok(base.powf(exponent));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some('(') => {
                self.at += 1;
                let value = self.nested(Self::sum)?;
                if self.peek() != Some(')') {
                    return Err("missing `)`".into());
                }
                self.at += 1;
                Ok(value)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                text.parse::<f64>().map_err(|_| format!("`{text}` is not a number"))
            }
            Some(c) => Err(format!("unexpected `{c}`")),
            None => Err("the expression ends too early".into()),
        }
    }

    fn nested(&mut self, inner: fn(&mut Self) -> Result<f64, String>) -> Result<f64, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let value = inner(self);
        self.depth -= 1;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_associativity_and_signs() {
        assert_eq!(evaluate("2 + 3 * 4"), Ok(14.0));
        assert_eq!(evaluate("(2 + 3) * 4"), Ok(20.0));
        assert_eq!(evaluate("2 ^ 3 ^ 2"), Ok(512.0));
        assert_eq!(evaluate("-2 ^ 2"), Ok(-4.0));
        assert_eq!(evaluate("2 ^ -1"), Ok(0.5));
        assert_eq!(evaluate("10 - 4 - 3"), Ok(3.0));
        assert_eq!(evaluate("7 % 4 + 1.5"), Ok(4.5));
        assert_eq!(evaluate("--1"), Ok(1.0));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(evaluate("1 / 0"), Err("division by zero".into()));
        assert!(evaluate("").is_err());
        assert!(evaluate("2 +").is_err());
        assert!(evaluate("(1").is_err());
        assert!(evaluate("1.2.3").is_err());
        assert!(evaluate("system('rm')").is_err());
        assert!(evaluate(&"(".repeat(200)).is_err());
        assert!(evaluate(&"-".repeat(100)).is_err());
        assert!(evaluate("10 ^ 400").is_err());
        assert!(evaluate(&"1+".repeat(200)).is_err());
    }
}
