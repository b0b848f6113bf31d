//! The manual, generated from the command line's own definition: shell completions (`ssot-check
//! completions bash`) and the man page (`ssot-check man`), so neither can drift from the flags.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    // Generated into memory first: the generator panics on a write error (a closed pipe), and a write
    // error is the caller's to report.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ssot-check", &mut script);
    out.write_all(&script)
}

/// Writes the man page (roff): the command, then a section per subcommand with its own options.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    let command = Cli::command();
    clap_mangen::Man::new(command.clone()).render(out)?;
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let name = format!("ssot-check {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            writeln!(out, "{}", escape(&about.to_string()))?;
        }
        let page = clap_mangen::Man::new(sub.clone().name(name));
        page.render_synopsis_section(out)?;
        page.render_options_section(out)?;
        if sub.has_subcommands() {
            page.render_subcommands_section(out)?;
        }
    }
    Ok(())
}

/// Text safe in roff: a leading dot or quote would start a request, a backslash an escape, a hyphen
/// would not be a minus.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    match text.starts_with(['.', '\'']) {
        true => format!("\\&{text}"),
        false => text,
    }
}
