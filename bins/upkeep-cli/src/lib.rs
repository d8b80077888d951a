//! The shared edge of the upkeep binaries.
//!
//! Library crates return `thiserror` enums and never print. This crate is where those
//! errors meet a person: [`Report`] prints `error: …`, each cause, then `hint: …` lines,
//! and maps the failure to one of the documented [`Exit`] codes. It also sets up logging
//! (`-v`/`-vv`, `NO_COLOR`) and holds the options every binary shares: `--output`, the
//! tokens ([`TokenArgs`]) and who is operating ([`ActorArgs`]).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::process::ExitCode;

use secrecy::{ExposeSecret as _, SecretString};

/// Exit codes shared by all upkeep binaries, documented in every `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done (or there was nothing to do).
    Success,
    /// Some projects or repos failed; the others were handled. The report says which.
    Partial,
    /// The input was wrong: arguments, configuration, an unknown name, a refused plan.
    /// Nothing was changed.
    UserError,
    /// Something unexpected failed: a network, a server, a bug. Retry, or report it.
    Failure,
    /// A check guarding the command failed (`deploy-token`'s preflight checks); nothing
    /// was changed.
    CheckFailed,
    /// The run was interrupted (Ctrl-C); the journal says what was done.
    Interrupted,
}

impl Exit {
    /// The numeric process exit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Partial => 1,
            Self::UserError => 2,
            Self::Failure => 3,
            Self::CheckFailed => 4,
            Self::Interrupted => 130,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The exit-code table appended to every binary's `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success (or nothing to do)
  1    partial: some projects/repos failed, the others were handled
  2    user error: bad arguments, configuration or input; nothing was changed
  3    unexpected failure (network, server, bug); safe to retry
  130  interrupted; re-run to resume";

/// A failure ready to be shown to a person: the error chain, remedies and the exit code.
#[derive(Debug)]
pub struct Report {
    error: Box<dyn std::error::Error + Send + Sync + 'static>,
    hints: Vec<String>,
    exit: Exit,
}

impl Report {
    /// A report for an unexpected failure ([`Exit::Failure`]).
    pub fn failure(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            error: error.into(),
            hints: Vec::new(),
            exit: Exit::Failure,
        }
    }

    /// A report for bad input ([`Exit::UserError`]).
    pub fn user(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            error: error.into(),
            hints: Vec::new(),
            exit: Exit::UserError,
        }
    }

    /// Adds a remedy, printed as `hint: …`.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Overrides the exit code.
    #[must_use]
    pub fn exit(mut self, exit: Exit) -> Self {
        self.exit = exit;
        self
    }

    /// The exit code this report maps to.
    #[must_use]
    pub fn exit_code(&self) -> Exit {
        self.exit
    }

    /// The text printed on stderr: `error: …`, `  caused by: …` per source, `hint: …`.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.error);
        let mut source = self.error.source();
        while let Some(cause) = source {
            let _ = writeln!(out, "  caused by: {cause}");
            source = cause.source();
        }
        for hint in &self.hints {
            let _ = writeln!(out, "hint: {hint}");
        }
        out
    }

    /// Prints the report on stderr and returns the exit code for `main`.
    #[allow(clippy::print_stderr)] // The binary edge is where errors are printed.
    #[must_use]
    pub fn print(&self) -> ExitCode {
        eprint!("{}", self.render());
        self.exit.into()
    }
}

/// How a command prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
    /// Markdown, where a command has a Markdown rendering (`maintain deps diff` prints
    /// the pull-request table); other commands refuse it.
    Markdown,
}

impl Output {
    /// Refuses `--output markdown` for commands without a Markdown rendering.
    pub fn text_or_json(self, command: &str) -> Result<Self, Report> {
        if self == Self::Markdown {
            return Err(Report::user(format!("`{command}` has no Markdown output"))
                .hint("use --output text or --output json; Markdown is for `maintain deps diff`"));
        }
        Ok(self)
    }
}

/// Options every upkeep binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Print the result as text, JSON, or (for `deps diff`) Markdown; data on stdout,
    /// logs stay on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl GlobalArgs {
    /// Sets up logging on stderr at the level the flags ask for; `RUST_LOG` wins when set.
    /// Colour is off when `NO_COLOR` is set or stderr is not a terminal.
    pub fn init_logging(&self) {
        LogArgs {
            verbose: self.verbose,
            quiet: self.quiet,
        }
        .init_logging();
    }
}

/// `-v`/`-q` alone, for a binary whose `--output` belongs to each subcommand (each
/// subcommand's help then says what it prints).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl LogArgs {
    /// Sets up logging on stderr at the level the flags ask for; `RUST_LOG` wins when set.
    /// Colour is off when `NO_COLOR` is set or stderr is not a terminal.
    pub fn init_logging(&self) {
        let level = if self.quiet {
            "error"
        } else {
            match self.verbose {
                0 => "warn",
                1 => "info",
                2 => "debug",
                _ => "trace",
            }
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(use_color())
            .with_target(false)
            .try_init();
    }
}

/// The help heading of the token options.
const TOKENS: &str = "Tokens (set them in the environment)";

/// The secrets, declared once for every binary: read from the environment (or a flag,
/// for a one-off), never shown in `--help`, turned into [`upkeep_config::Secrets`].
#[derive(Debug, Clone, Default, clap::Args)]
#[allow(clippy::struct_field_names)] // The names are the flags: --github-token, …
pub struct TokenArgs {
    /// GitHub token: API and git over https (scope `repo`).
    #[arg(long, global = true, env = "GITHUB_TOKEN", hide_env_values = true, value_name = "TOKEN", help_heading = TOKENS)]
    pub github_token: Option<SecretString>,
    /// GitLab token: API and git over https (scopes `api`, `write_repository`).
    #[arg(long, global = true, env = "GITLAB_TOKEN", hide_env_values = true, value_name = "TOKEN", help_heading = TOKENS)]
    pub gitlab_token: Option<SecretString>,
    /// Slack bot token (`chat:write`; `maintain` also `reactions:read`,
    /// `reactions:write`, `channels:history`).
    #[arg(long, global = true, env = "SLACK_API_TOKEN", hide_env_values = true, value_name = "TOKEN", help_heading = TOKENS)]
    pub slack_api_token: Option<SecretString>,
    /// Sentry auth token, for the Sentry gate (scope `event:read`).
    #[arg(long, global = true, env = "SENTRY_AUTH_TOKEN", hide_env_values = true, value_name = "TOKEN", help_heading = TOKENS)]
    pub sentry_auth_token: Option<SecretString>,
    /// Sentry DSN, for failure events of jobs.
    #[arg(long, global = true, env = "SENTRY_DSN", hide_env_values = true, value_name = "DSN", help_heading = TOKENS)]
    pub sentry_dsn: Option<SecretString>,
    /// Slack Web API base URL (for a proxy or a test server).
    #[arg(long, global = true, env = "UPKEEP_SLACK_API_URL", hide = true)]
    pub slack_api_url: Option<String>,
}

impl TokenArgs {
    /// The secrets; empty values count as unset.
    #[must_use]
    pub fn secrets(&self) -> upkeep_config::Secrets {
        let set = |v: &Option<SecretString>| v.clone().filter(|s| !s.expose_secret().is_empty());
        upkeep_config::Secrets {
            github_token: set(&self.github_token),
            gitlab_token: set(&self.gitlab_token),
            slack_api_token: set(&self.slack_api_token),
            sentry_auth_token: set(&self.sentry_auth_token),
            sentry_dsn: set(&self.sentry_dsn),
        }
    }
}

/// The `--output` of a subcommand that prints text or one JSON document; the
/// subcommand's own doc comment on the field says what the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TextOrJson {
    /// Text for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

impl From<TextOrJson> for Output {
    fn from(f: TextOrJson) -> Self {
        match f {
            TextOrJson::Text => Self::Text,
            TextOrJson::Json => Self::Json,
        }
    }
}

/// A forge client or git credentials could not be set up: the error, its hint, and
/// the exit code for a person's mistake or a server's failure.
#[must_use]
pub fn connect_report(e: upkeep_forge::connect::ConnectError) -> Report {
    let hint = e.hint();
    let report = if e.is_user_error() {
        Report::user(e)
    } else {
        Report::failure(e)
    };
    match hint {
        Some(h) => report.hint(h),
        None => report,
    }
}

/// The shared state store `[state] repo` names (`None`: the tool keeps its state in
/// local files), with the hints every binary gives when it cannot be opened.
pub fn shared_state_store(
    state: &upkeep_config::StateConfig,
    secrets: &upkeep_config::Secrets,
) -> Result<Option<std::sync::Arc<dyn upkeep_state::StateStore>>, Report> {
    use upkeep_forge::connect::StateStoreError;
    upkeep_forge::connect::shared_state_store(state, secrets).map_err(|e| match e {
        StateStoreError::Connect(e) => connect_report(e),
        e => Report::failure(e).hint("check [state] repo and that the token may push to it"),
    })
}

/// Who is operating, declared once for every binary; decided by
/// [`upkeep_lock::Actor::resolve`] so that every tool records and checks the same name.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ActorArgs {
    /// Who you are, as recorded with the deploy token and in the history (default: git's
    /// user.name, then $USER).
    #[arg(
        long,
        global = true,
        env = "UPKEEP_ACTOR",
        alias = "as",
        value_name = "NAME"
    )]
    pub actor: Option<String>,
}

impl ActorArgs {
    /// `--actor`, else git's `user.name` (seen from the current directory), else `$USER`.
    #[expect(
        clippy::disallowed_methods,
        reason = "the binaries' edge: the login name comes from the environment"
    )]
    pub fn resolve(&self) -> Result<String, Report> {
        let here = std::env::current_dir().unwrap_or_else(|_| ".".into());
        let login = std::env::var("USER").ok();
        upkeep_lock::Actor::resolve(self.actor.as_deref(), &here, login.as_deref())
            .map(|a| a.name)
            .map_err(|e| {
                Report::user(e).hint(
                    "pass --actor <name>, or set git's user.name (git config --global user.name \"Your Name\")",
                )
            })
    }
}

/// Whether to colour stderr: a terminal, and `NO_COLOR` unset or empty.
#[must_use]
#[expect(
    clippy::disallowed_methods,
    reason = "the binaries' edge: NO_COLOR is read from the environment"
)]
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// What `<binary> completions` and `<binary> man` print: shell completions or man pages
/// generated from the binary's own clap definition, so they never drift from `--help`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum MetaCommand {
    /// Print shell completions for bash, zsh, fish, elvish or PowerShell.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): the tool's, or a subcommand's (`man <subcommand>`).
    ///
    /// `man status` prints `<tool>-status(1)`, `man --dir DIR` writes the tool's page and
    /// one per subcommand into DIR, for `MANPATH`.
    Man {
        /// The subcommand whose page to print (`deps diff` for a nested one); none for
        /// the tool's own page.
        #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
        subcommand: Vec<String>,
        /// Write the tool's page and one page per subcommand (`<tool>-<subcommand>.1`)
        /// into this directory, and print the files written.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// `man` was asked for a subcommand the tool does not have.
#[derive(Debug)]
struct UnknownSubcommand {
    asked: String,
    known: Vec<String>,
}

impl std::fmt::Display for UnknownSubcommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no man page for `{}`; there are pages for: {}",
            self.asked,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownSubcommand {}

/// The pages of a built command, the tool's first, then each subcommand's (depth first),
/// with the subcommand path that names it (empty for the tool). Pages are titled
/// `<tool>-<subcommand>` so that the `SUBCOMMANDS` section's `tool-sub(1)` references
/// resolve; the source line carries the tool's name and version.
fn man_pages(command: &clap::Command) -> Vec<(Vec<String>, clap_mangen::Man)> {
    fn walk(
        cmd: &clap::Command,
        path: &[String],
        source: &str,
        out: &mut Vec<(Vec<String>, clap_mangen::Man)>,
    ) {
        out.push((
            path.to_vec(),
            clap_mangen::Man::new(cmd.clone()).source(source),
        ));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut path = path.to_vec();
            path.push(sub.get_name().to_owned());
            walk(sub, &path, source, out);
        }
    }
    let source = format!(
        "{} {}",
        command.get_name(),
        command.get_version().unwrap_or_default()
    );
    let mut pages = Vec::new();
    walk(command, &[], source.trim_end(), &mut pages);
    pages
}

impl MetaCommand {
    /// Writes the completions or man page for the command `C` to `out`; `man --dir`
    /// writes the pages into the directory and lists them on `out`.
    pub fn write<C: clap::CommandFactory>(
        &self,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let mut command = C::command();
        let name = command.get_name().to_owned();
        match self {
            Self::Completions { shell } => {
                clap_complete::generate(*shell, &mut command, name, out);
                Ok(())
            }
            Self::Man { subcommand, dir } => {
                let mut command = command.disable_help_subcommand(true);
                command.build();
                let pages = man_pages(&command);
                if let Some(dir) = dir {
                    fs_err::create_dir_all(dir)?;
                    for (_, page) in &pages {
                        let path = page.generate_to(dir)?;
                        writeln!(out, "{}", path.display())?;
                    }
                    return Ok(());
                }
                match pages.iter().find(|(path, _)| path == subcommand) {
                    Some((_, page)) => page.render(out),
                    None => Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        UnknownSubcommand {
                            asked: subcommand.join(" "),
                            known: pages
                                .iter()
                                .skip(1)
                                .map(|(path, _)| path.join(" "))
                                .collect(),
                        },
                    )),
                }
            }
        }
    }

    /// Writes to stdout and maps the outcome to an exit code.
    #[must_use]
    pub fn run<C: clap::CommandFactory>(&self) -> Exit {
        match self.write::<C>(&mut std::io::stdout().lock()) {
            Ok(()) => Exit::Success,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.writes_files() => {
                let _ = Report::user(e)
                    .hint("`man` without a subcommand prints the tool's own page")
                    .print();
                Exit::UserError
            }
            Err(e) => {
                let _ = Report::failure(e).print();
                Exit::Failure
            }
        }
    }

    fn writes_files(&self) -> bool {
        matches!(self, Self::Man { dir: Some(_), .. })
    }
}

/// Installs the process-wide rustls crypto provider.
///
/// Both ring (octocrab, slack-morphism) and aws-lc-rs (gitlab's reqwest) are compiled in,
/// so rustls cannot pick a default by itself and slack-morphism's connector would panic
/// (CRATES.md). Call this first thing in `main`.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Prints a value as pretty JSON on stdout.
#[allow(clippy::print_stdout)] // Data goes to stdout at the binary edge.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), serde_json::Error> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot push `main` to origin")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn report_lists_causes_then_hints() {
        let report =
            Report::user(Outer(std::io::Error::other("remote moved"))).hint("fetch and re-run");
        assert_eq!(
            report.render(),
            "error: cannot push `main` to origin\n  caused by: remote moved\nhint: fetch and re-run\n"
        );
        assert_eq!(report.exit_code().code(), 2);
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "demo-tool", version, about = "A tool")]
    struct DemoCli {
        /// A flag.
        #[arg(long)]
        flag: bool,
        #[command(subcommand)]
        command: Option<DemoCommand>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum DemoCommand {
        /// Do the thing.
        Run {
            /// How hard.
            #[arg(long)]
            hard: bool,
        },
        /// Nested commands.
        Deps {
            #[command(subcommand)]
            command: DepsCommand,
        },
    }

    #[derive(Debug, clap::Subcommand)]
    enum DepsCommand {
        /// Compare two lockfiles.
        Diff {
            /// The old one.
            old: String,
        },
    }

    fn man(subcommand: &[&str]) -> std::io::Result<String> {
        let mut out = Vec::new();
        MetaCommand::Man {
            subcommand: subcommand.iter().map(|s| (*s).to_owned()).collect(),
            dir: None,
        }
        .write::<DemoCli>(&mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn completions_and_man_pages_come_from_the_clap_definition() {
        let mut bash = Vec::new();
        MetaCommand::Completions {
            shell: clap_complete::Shell::Bash,
        }
        .write::<DemoCli>(&mut bash)
        .unwrap();
        let bash = String::from_utf8(bash).unwrap();
        assert!(
            bash.contains("demo-tool") && bash.contains("--flag"),
            "{bash}"
        );
        let page = man(&[]).unwrap();
        assert!(
            page.contains(".TH demo-tool 1") && page.contains("flag"),
            "{page}"
        );
        // The tool's page refers to its subcommands' pages…
        assert!(page.contains("demo\\-tool\\-run(1)"), "{page}");
    }

    #[test]
    fn every_subcommand_has_its_own_page() {
        let run = man(&["run"]).unwrap();
        assert!(run.starts_with(".ie"), "{run}");
        assert!(run.contains(".TH demo-tool-run 1"), "{run}");
        assert!(run.contains("demo\\-tool run"), "{run}");
        assert!(run.contains("hard") && !run.contains("\\-\\-flag"), "{run}");
        // The source line names the tool, not the subcommand.
        assert!(run.contains("\"demo-tool 0.1.0\""), "{run}");
        let diff = man(&["deps", "diff"]).unwrap();
        assert!(diff.contains(".TH demo-tool-deps-diff 1"), "{diff}");

        let err = man(&["deploy"]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            "no man page for `deploy`; there are pages for: run, deps, deps diff"
        );
    }

    #[test]
    fn man_dir_writes_every_page_that_is_referenced() {
        let dir = std::env::temp_dir().join(format!("upkeep-cli-man-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        let mut listing = Vec::new();
        MetaCommand::Man {
            subcommand: Vec::new(),
            dir: Some(dir.clone()),
        }
        .write::<DemoCli>(&mut listing)
        .unwrap();
        let mut written: Vec<String> = fs_err::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        assert_eq!(
            written,
            [
                "demo-tool-deps-diff.1",
                "demo-tool-deps.1",
                "demo-tool-run.1",
                "demo-tool.1"
            ]
        );
        assert_eq!(String::from_utf8(listing).unwrap().lines().count(), 4);
        // Every `name(1)` reference in a page is a page that was written.
        for file in &written {
            let page = fs_err::read_to_string(dir.join(file)).unwrap();
            for reference in page.split_whitespace().filter(|w| w.ends_with("(1)")) {
                let target = format!(
                    "{}.1",
                    reference.trim_end_matches("(1)").replace("\\-", "-")
                );
                assert!(written.contains(&target), "{file} refers to {reference}");
            }
        }
        fs_err::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn exit_codes_are_distinct_and_documented() {
        let all = [
            Exit::Success,
            Exit::Partial,
            Exit::UserError,
            Exit::Failure,
            Exit::Interrupted,
            Exit::CheckFailed,
        ];
        for (i, a) in all.iter().enumerate() {
            // `CheckFailed` is only `deploy-token`'s, documented in its own table.
            if *a != Exit::CheckFailed {
                assert!(EXIT_CODES_HELP.contains(&format!("  {} ", a.code())));
            }
            for b in &all[i + 1..] {
                assert_ne!(a.code(), b.code());
            }
        }
    }
}
