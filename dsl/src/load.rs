//! Loading a stack: read every `.gig` file of a directory, parse it, pick the
//! environment's gigvars, and lower everything into a [`Config`].
//!
//! [`load_dir`] is what the CLI calls; [`load_str`] loads one in-memory file (tests, the
//! fuzzer). Both collect every diagnostic of every file and never stop at the first;
//! the config is returned only when no error was found. Lowering itself never reads
//! the process environment: the CLI passes `GIG_PARAM_*` variables in
//! [`LoadOptions::env_params`].

use std::path::{Path, PathBuf};

use crate::ast;
use crate::config::Config;
use crate::lower::{self, Host, LowerOptions, ModuleLoadError, ModuleSource};
use crate::parse::parse_file;
use crate::source::{read_source, source_from_bytes};
use gig_core::diag::{has_errors, Code, Diagnostic};
use gig_core::span::{FileId, SourceMap, Span};

/// What to load besides the files.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--env NAME`: reads `env/NAME.gigvars` from the stack directory.
    pub env: Option<String>,
    /// `--param name=value` pairs in command-line order (later wins).
    pub params: Vec<(String, String)>,
    /// `GIG_PARAM_<name>=value` pairs, filled by the CLI from the environment.
    pub env_params: Vec<(String, String)>,
    /// `--stack-name NAME`: the stack's name, over its `stack` block.
    pub stack_name: Option<String>,
    /// In-memory files read after the stack's own, as (name, text): `gig console`
    /// lowers its expressions as outputs of such a file.
    pub extra_files: Vec<(String, String)>,
}

/// The result of a load.
#[derive(Debug)]
pub struct Loaded {
    /// Every file read (stack files, module files, the gigvars file, param values
    /// parsed as expressions), for rendering diagnostics.
    pub sources: SourceMap,
    /// The lowered stack; `None` when any error was found.
    pub config: Option<Config>,
    /// Every diagnostic, errors and warnings, ordered by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

/// The `.gig` files directly inside `dir`, sorted by path.
pub fn stack_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "gig") && entry.file_type()?.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Loads the stack in `dir`.
pub fn load_dir(dir: &Path, opts: &LoadOptions) -> Loaded {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let stack = directory_name(dir);
    let files = match stack_files(dir) {
        Ok(files) if files.is_empty() => {
            diags.push(
                Diagnostic::error(Code::E0200, "no .gig files", Span::DETACHED)
                    .with_detail(format!(
                        "The directory `{}` holds no `.gig` file, so there is no stack to load.",
                        dir.display()
                    ))
                    .with_help("point gig at a stack directory, such as stacks/giggatek"),
            );
            return finish(sources, None, diags);
        }
        Ok(files) => files,
        Err(err) => {
            diags.push(
                Diagnostic::error(Code::E0201, "cannot read stack directory", Span::DETACHED)
                    .with_detail(format!(
                        "Reading the directory `{}` failed: {err}.",
                        dir.display()
                    )),
            );
            return finish(sources, None, diags);
        }
    };
    let parsed = parse_files(&files, &opts.extra_files, &mut sources, &mut diags);
    if has_errors(&diags) {
        // Lowering a partly parsed stack would report names from the broken items as
        // undefined; the syntax errors come first.
        return finish(sources, None, diags);
    }

    let gigvars = match &opts.env {
        Some(env) => match read_gigvars(dir, env, &mut sources, &mut diags) {
            Some(f) => Some(f),
            None => return finish(sources, None, diags),
        },
        None => None,
    };

    let root = ModuleSource {
        dir: Some(dir.to_path_buf()),
        files: parsed,
    };
    let lopts = LowerOptions {
        stack,
        stack_name: opts.stack_name.clone(),
        env: opts.env.clone(),
        gigvars: gigvars.as_ref(),
        params: &opts.params,
        env_params: &opts.env_params,
    };
    let mut host = FsHost {
        sources: &mut sources,
        diags: &mut diags,
    };
    let (config, lower_diags) = lower::lower(root, &lopts, &mut host);
    diags.extend(lower_diags);
    finish(sources, Some(config), diags)
}

/// Loads one in-memory file named `name` as a whole stack. Modules and `file()` are
/// unavailable (there is no directory), and so is `--env`.
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Loaded {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let stack = Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned());
    let file = match source_from_bytes(&mut sources, Path::new(name), text.as_bytes().to_vec()) {
        Ok(id) => {
            let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
            let (file, parse_diags) = parse_file(id, &text);
            diags.extend(parse_diags);
            file
        }
        Err(d) => {
            diags.push(d);
            return finish(sources, None, diags);
        }
    };
    if has_errors(&diags) {
        return finish(sources, None, diags);
    }
    if let Some(env) = &opts.env {
        diags.push(unknown_env(env, Path::new("."), &[]));
        return finish(sources, None, diags);
    }
    let root = ModuleSource {
        dir: None,
        files: vec![file],
    };
    let lopts = LowerOptions {
        stack,
        stack_name: opts.stack_name.clone(),
        env: None,
        gigvars: None,
        params: &opts.params,
        env_params: &opts.env_params,
    };
    let mut host = FsHost {
        sources: &mut sources,
        diags: &mut diags,
    };
    let (config, lower_diags) = lower::lower(root, &lopts, &mut host);
    diags.extend(lower_diags);
    finish(sources, Some(config), diags)
}

/// Sorts diagnostics and keeps the config only when there is no error.
fn finish(sources: SourceMap, config: Option<Config>, mut diags: Vec<Diagnostic>) -> Loaded {
    diags.sort_by_key(|d| (d.span.file, d.span.start, d.span.end));
    let config = if has_errors(&diags) { None } else { config };
    Loaded {
        sources,
        config,
        diagnostics: diags,
    }
}

/// The stack directory's own name: the stack's name when nothing declares one (the
/// engine settles the identity against the state, see `gig_engine::identity`).
pub fn directory_name(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    name.or_else(|| {
        dir.canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
    })
    .unwrap_or_else(|| "stack".to_string())
}

/// Reads every file into `sources`, then parses them all (on several threads when they
/// are large, see [`crate::parse::parse_files`]).
fn parse_files(
    files: &[PathBuf],
    extra: &[(String, String)],
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ast::File> {
    let mut ids = Vec::with_capacity(files.len() + extra.len());
    for path in files {
        match read_source(sources, path, path) {
            Ok(id) => ids.push(id),
            Err(d) => diags.push(d),
        }
    }
    for (name, text) in extra {
        ids.push(sources.add(name, text.clone()));
    }
    let texts: Vec<(FileId, &str)> = ids
        .iter()
        .map(|&id| (id, sources.get(id).map_or("", |f| f.text.as_str())))
        .collect();
    let mut out = Vec::with_capacity(texts.len());
    for (file, parse_diags) in crate::parse::parse_files(&texts) {
        diags.extend(parse_diags);
        out.push(file);
    }
    out
}

/// The environments a stack defines: the names of `env/*.gigvars`, sorted.
pub fn stack_envs(dir: &Path) -> Vec<String> {
    let mut envs: Vec<String> = std::fs::read_dir(dir.join("env"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension().is_some_and(|x| x == "gigvars"))
                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .flatten()
        })
        .collect();
    envs.sort();
    envs
}

fn unknown_env(env: &str, dir: &Path, envs: &[String]) -> Diagnostic {
    let mut d = Diagnostic::error(Code::E0184, "unknown environment", Span::DETACHED).with_detail(if envs.is_empty() {
        format!("`--env {env}` needs the file `{}`, and this stack defines no environments.", dir.join("env").join(format!("{env}.gigvars")).display())
    } else {
        format!(
            "`--env {env}` needs the file `{}`, which does not exist. The environments of this stack are: {}.",
            dir.join("env").join(format!("{env}.gigvars")).display(),
            envs.join(", ")
        )
    });
    if let Some(s) = gig_core::diag::suggest(env, envs.iter().map(String::as_str)) {
        d = d.with_help(format!("did you mean `--env {s}`?"));
    }
    d
}

fn read_gigvars(
    dir: &Path,
    env: &str,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Option<ast::File> {
    let envs = stack_envs(dir);
    let valid_name = !env.is_empty()
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name || !envs.iter().any(|e| e == env) {
        diags.push(unknown_env(env, dir, &envs));
        return None;
    }
    let path = dir.join("env").join(format!("{env}.gigvars"));
    match read_source(sources, &path, &path) {
        Ok(id) => {
            let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
            let (file, parse_diags) = parse_file(id, &text);
            let failed = has_errors(&parse_diags);
            diags.extend(parse_diags);
            (!failed).then_some(file)
        }
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// The file-system host: reads module directories and parses raw param values.
struct FsHost<'s> {
    sources: &'s mut SourceMap,
    diags: &'s mut Vec<Diagnostic>,
}

impl Host for FsHost<'_> {
    fn load_module(&mut self, dir: &Path) -> Result<Vec<ast::File>, ModuleLoadError> {
        let files = stack_files(dir).map_err(|e| ModuleLoadError::Io(e.to_string()))?;
        if files.is_empty() {
            return Err(ModuleLoadError::NoGigFiles);
        }
        Ok(parse_files(&files, &[], self.sources, self.diags))
    }

    fn parse_expr(&mut self, origin: &str, name: &str, text: &str) -> Option<ast::Expr> {
        // The value is parsed as the assignment `name = text`, registered under `origin`
        // so a syntax error renders against what the user typed.
        let shown = format!("{name} = {text}");
        let id = match source_from_bytes(self.sources, Path::new(origin), shown.into_bytes()) {
            Ok(id) => id,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        let text = self
            .sources
            .get(id)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        let (file, diags) = parse_file(id, &text);
        let failed = has_errors(&diags);
        self.diags.extend(diags);
        match file.items.as_slice() {
            [ast::Item::Assign(a)] if !failed => Some(a.value.clone()),
            _ => None,
        }
    }
}

/// Whether a `.gig` file directly in `dir` seems to hold a `state { … }` block: a line
/// that starts with `state` and a `{`. A cheap look at the text, so that finding where
/// the state lives costs a whole load only for stacks that have such a block;
/// [`load_dir`] then reads the block itself (`Config::state`).
pub fn has_state_block(dir: &Path) -> bool {
    let Ok(files) = stack_files(dir) else {
        return false;
    };
    files.iter().any(|file| {
        std::fs::read_to_string(file).is_ok_and(|text| {
            text.lines().any(|line| {
                line.strip_prefix("state")
                    .is_some_and(|rest| rest.trim_start().starts_with('{'))
            })
        })
    })
}
