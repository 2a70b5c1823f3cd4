use super::sql_text::text_enum;

text_enum! {
    /// Where a notification is in its life: waiting, in a round, done, waiting for a
    /// retry, or given up on.
    pub enum Status ("status") {
        Pending => "pending",
        Delivering => "delivering",
        Delivered => "delivered",
        Failed => "failed",
        Dead => "dead",
    }
}
