/// An OnCall alert group as plugins are told of it: from the OnCall API (incident
/// details) or from the push the engine relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroup {
    pub id: String,
    pub number: Option<u64>,
    pub title: String,
    pub state: String,
    pub integration: String,
    pub permalink: String,
    pub labels: Vec<(String, String)>,
    /// RFC 3339.
    pub started_at: Option<String>,
}
