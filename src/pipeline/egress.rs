//! Stage `egress` (src/net/), only when the Policy has `[network] allow_domains`: before the
//! plan, the credentials' real values are read and the command's environment gets the proxy
//! variables and the placeholders; after the launch, the proxy's account becomes the report's
//! `network` section, and each refused destination one line on stderr.

use super::preflight::Checked;
use super::Call;
use crate::error::Result;
use crate::report::NetworkReport;

/// Before `plan`: what the proxy needs (None without `allow_domains`: nothing is done).
pub fn prepare(checked: &mut Checked) -> Result<Option<crate::net::Egress>> {
    crate::net::prepare(&mut checked.resolved.policy)
}

/// After `launch`: the report's `network` section and the refusal lines.
pub fn apply(
    call: &mut Call<'_>,
    rules: Option<&crate::policy::Egress>,
    account: Option<crate::net::Account>,
) {
    let (Some(rules), Some(account)) = (rules, account) else {
        return;
    };
    let count = |verdict: &str| {
        account
            .connections
            .iter()
            .filter(|c| c.verdict == verdict)
            .count() as u64
    };
    let mut said = std::collections::BTreeSet::new();
    for c in account
        .connections
        .iter()
        .filter(|c| c.verdict == "refused")
    {
        if said.insert((c.host.clone(), c.port, c.rule.clone())) {
            crate::shown::say(&format!(
                "network: refused {}:{} ({}); {}",
                if c.host.is_empty() { "?" } else { &c.host },
                c.port,
                c.rule,
                c.remedy.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(f) = &account.failure {
        crate::shown::warn(f);
        call.report.warnings.push(f.clone());
    }
    call.report.network = Some(NetworkReport {
        proxy: format!("127.0.0.1:{}", crate::policy::PROXY_PORT),
        allow_domains: rules.domains.clone(),
        allowed: count("allowed"),
        refused: count("refused"),
        failed: count("failed"),
        unlisted: account.unlisted,
        placeholders_elsewhere: account
            .connections
            .iter()
            .filter(|c| !c.placeholders_elsewhere.is_empty())
            .count() as u64,
        connections: account
            .connections
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect(),
        failure: account.failure.clone(),
    });
}
