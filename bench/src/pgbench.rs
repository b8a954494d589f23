//! The pgbench twin of a scenario: a custom script holding the statements captured from
//! accountd, with each placeholder bound to a pgbench variable or value of the same kind,
//! run with `-M prepared` (sqlx prepares and caches statements too) at the same concurrency.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::capture::{self, Slot};
use crate::stats::Measurement;

/// String values given to pgbench with `-D name=value`. In prepared mode pgbench would read a
/// `:` followed by a name inside a literal as a variable (JSON and timestamps are full of
/// them), so such values become variables, sent as bound parameters — as sqlx sends them.
#[derive(Debug, Default)]
pub struct Vars {
    defs: Vec<(String, String)>,
    by_value: HashMap<String, String>,
}

impl Vars {
    /// SQL for the string `text`: a quoted literal, or a `-D` variable when it holds a `:`.
    pub fn literal(&mut self, text: &str) -> String {
        if !text.contains(':') {
            return format!("'{}'", text.replace('\'', "''"));
        }
        if let Some(name) = self.by_value.get(text) {
            return format!(":{name}");
        }
        let name = format!("lit{}", self.defs.len());
        self.defs.push((name.clone(), text.to_owned()));
        self.by_value.insert(text.to_owned(), name.clone());
        format!(":{name}")
    }

    /// The `-D name=value` arguments.
    pub fn args(&self) -> Vec<String> {
        self.defs.iter().flat_map(|(n, v)| ["-D".to_owned(), format!("{n}={v}")]).collect()
    }
}

/// `text` as an SQL expression of type `ty`, where each occurrence of a key of `replacements`
/// becomes that key's expression (a fresh id, or another user's id) and the rest stays literal.
pub fn value_expr(text: &str, replacements: &[(String, String)], ty: &str, vars: &mut Vars) -> String {
    let mut pieces: Vec<String> = Vec::new();
    let mut rest = text;
    loop {
        let next =
            replacements.iter().filter_map(|(k, e)| rest.find(k.as_str()).map(|at| (at, k, e))).min_by_key(|x| x.0);
        match next {
            Some((at, key, expr)) => {
                if at > 0 {
                    pieces.push(vars.literal(&rest[..at]));
                }
                pieces.push(format!("CAST({expr} AS text)"));
                rest = &rest[at + key.len()..];
            }
            None => {
                if !rest.is_empty() || pieces.is_empty() {
                    pieces.push(vars.literal(rest));
                }
                break;
            }
        }
    }
    format!("CAST({} AS {ty})", pieces.join(" || "))
}

/// A pgbench script: the `\set` lines, then each statement with its placeholders replaced
/// by what `resolve` says of their slots.
pub fn script(
    sets: &[String],
    statements: &[String],
    vars: &mut Vars,
    mut resolve: impl FnMut(&Slot, &mut Vars) -> Result<String>,
) -> Result<String> {
    let mut out = String::new();
    for set in sets {
        out.push_str(set);
        out.push('\n');
    }
    for statement in statements {
        let slots: HashMap<usize, Slot> = capture::slots(statement)?.into_iter().collect();
        let mut sql = statement.clone();
        // From the end, so earlier offsets stay valid.
        for (at, number) in capture::placeholders(statement).into_iter().rev() {
            let slot = slots.get(&number).with_context(|| format!("${number} has no slot in: {statement}"))?;
            let expr = resolve(slot, vars).with_context(|| format!("binding ${number} of: {statement}"))?;
            let len = 1 + number.to_string().len();
            sql.replace_range(at..at + len, &expr);
        }
        out.push_str(&sql);
        out.push_str(";\n");
    }
    Ok(out)
}

/// `text` with each line holding `mark` repeated once per value, the copy for value `i`
/// run when pgbench variable `var` is `i` (an `\if` chain); with one value, just that line.
pub fn expand(text: &str, mark: &str, var: &str, values: &[String]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if !line.contains(mark) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        for (i, value) in values.iter().enumerate() {
            if values.len() > 1 {
                out.push_str(&format!("{} :{var} = {i}\n", if i == 0 { "\\if" } else { "\\elif" }));
            }
            out.push_str(&line.replace(mark, value));
            out.push('\n');
        }
        if values.len() > 1 {
            out.push_str("\\endif\n");
        }
    }
    out
}

/// How one pgbench run is set up.
#[derive(Debug)]
pub struct Run<'a> {
    pub pgbench: &'a Path,
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub clients: usize,
    pub seconds: u64,
    /// The scripts, each written to a file and given equal weight.
    pub scripts: &'a [String],
    pub vars: &'a Vars,
    /// Where scripts and per-transaction logs go; the name prefixes their files.
    pub dir: &'a Path,
    pub name: &'a str,
}

/// Runs pgbench and measures it from its per-transaction log (`-l`).
pub fn run(run: &Run) -> Result<Measurement> {
    let mut files: Vec<PathBuf> = Vec::new();
    for (i, text) in run.scripts.iter().enumerate() {
        let file = run.dir.join(format!("{}.{i}.pgbench.sql", run.name));
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        files.push(file);
    }
    let logs = run.dir.join(format!("{}.pgbench-log", run.name));
    remove_logs(run.dir, &logs)?;
    let mut command = Command::new(run.pgbench);
    command
        .args(["-n", "-M", "prepared", "-h", run.host, "-U", "postgres"])
        .arg("-p")
        .arg(run.port.to_string())
        .arg("-c")
        .arg(run.clients.to_string())
        .arg("-j")
        .arg(run.clients.min(2).to_string())
        .arg("-T")
        .arg(run.seconds.to_string())
        .arg("-l")
        .arg(format!("--log-prefix={}", logs.display()))
        .args(run.vars.args());
    for file in &files {
        command.arg("-f").arg(format!("{}@1", file.display()));
    }
    command.arg(run.database);
    let output = command.output().with_context(|| format!("running {}", run.pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The command line first, shell-quoted, so a run can be repeated by hand.
    let line: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
        .collect();
    std::fs::write(run.dir.join(format!("{}.pgbench.out", run.name)), format!("{}\n{stdout}", line.join(" ")))?;
    if !output.status.success() {
        bail!("pgbench failed ({}):\n{stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let failed = failed_transactions(&stdout);
    let mut micros = Vec::new();
    for entry in std::fs::read_dir(run.dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{}.pgbench-log", run.name)) {
            let text = std::fs::read_to_string(entry.path())?;
            micros.extend(log_latencies(&text)?);
        }
    }
    remove_logs(run.dir, &logs)?;
    Ok(Measurement::from_latencies(micros, failed, run.seconds as f64))
}

fn remove_logs(dir: &Path, prefix: &Path) -> Result<()> {
    let stem = prefix.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&stem) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Latencies (µs) of the successful transactions in a pgbench `-l` log, whose lines read
/// `client_id transaction_no time script_no time_epoch time_us`; a failed transaction's
/// `time` is `failed` (or `skipped`).
pub fn log_latencies(text: &str) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let field = line.split_whitespace().nth(2).with_context(|| format!("short pgbench log line: {line}"))?;
        if let Ok(us) = field.parse::<u64>() {
            out.push(us);
        }
    }
    Ok(out)
}

/// The count pgbench prints as `number of failed transactions: N (…)`; 0 when absent.
pub fn failed_transactions(stdout: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_binds_each_placeholder_from_its_slot() {
        let statements = vec![
            "SELECT id FROM accounts WHERE id = $1".to_owned(),
            "SELECT account_id FROM members WHERE user_id = $1 AND account_id IN ($2, $3) LIMIT $4".to_owned(),
        ];
        let mut vars = Vars::default();
        let text = script(&["\\set n random(1, 10)".to_owned()], &statements, &mut vars, |slot, _| {
            Ok(match slot {
                Slot::Compare { column, .. } if column == "id" => "f(:n)".to_owned(),
                Slot::Compare { .. } => "'u'".to_owned(),
                Slot::In { position, .. } => format!("'a{position}'"),
                Slot::Limit => "51".to_owned(),
                Slot::Insert { .. } => unreachable!(),
            })
        })
        .unwrap();
        assert_eq!(
            text,
            "\\set n random(1, 10)\nSELECT id FROM accounts WHERE id = f(:n);\n\
             SELECT account_id FROM members WHERE user_id = 'u' AND account_id IN ('a1', 'a2') LIMIT 51;\n"
        );
    }

    #[test]
    fn a_marked_line_becomes_an_if_chain_over_the_variable() {
        let text = "\\set u random(0, 1)\nSELECT 1 WHERE d = @;\nSELECT 2;\n";
        let values = ["'a'".to_owned(), "'b'".to_owned()];
        assert_eq!(
            expand(text, "@", "u", &values),
            "\\set u random(0, 1)\n\\if :u = 0\nSELECT 1 WHERE d = 'a';\n\\elif :u = 1\n\
             SELECT 1 WHERE d = 'b';\n\\endif\nSELECT 2;\n"
        );
        assert_eq!(expand("SELECT @;", "@", "u", &values[..1]), "SELECT 'a';\n");
    }

    #[test]
    fn values_with_colons_become_variables_and_fresh_ids_become_expressions() {
        let mut vars = Vars::default();
        assert_eq!(vars.literal("it's"), "'it''s'");
        let replacements = vec![("ID".to_owned(), "new_id(:x)".to_owned())];
        let json = value_expr(r#"{"id":"ID","v":1}"#, &replacements, "jsonb", &mut vars);
        assert_eq!(json, "CAST(:lit0 || CAST(new_id(:x) AS text) || :lit1 AS jsonb)");
        assert_eq!(value_expr("ID", &replacements, "uuid", &mut vars), "CAST(CAST(new_id(:x) AS text) AS uuid)");
        assert_eq!(value_expr("", &replacements, "text", &mut vars), "CAST('' AS text)");
        // The same value is one variable.
        assert_eq!(vars.literal(r#"{"id":""#), ":lit0");
        assert_eq!(vars.args(), ["-D", r#"lit0={"id":""#, "-D", r#"lit1=","v":1}"#]);
    }

    #[test]
    fn the_transaction_log_yields_successful_latencies() {
        let log = "0 1 1520 0 1700000000 123\n1 1 failed 0 1700000000 200\n0 2 980 1 1700000001 5\n\n";
        assert_eq!(log_latencies(log).unwrap(), [1520, 980]);
        assert!(log_latencies("0 1").is_err());
        let stdout = "number of transactions actually processed: 10\nnumber of failed transactions: 3 (23.077%)\n";
        assert_eq!(failed_transactions(stdout), 3);
        assert_eq!(failed_transactions("tps = 5\n"), 0);
    }
}
