use super::sql_text::text_enum;

text_enum! {
    /// Where a notification is in its life: waiting, in a round, done, waiting for a
    /// retry, given up on, or no longer needed (its alert group was dealt with).
    pub enum Status ("status") {
        Pending => "pending",
        Delivering => "delivering",
        Delivered => "delivered",
        Failed => "failed",
        Dead => "dead",
        Cancelled => "cancelled",
        /// Its provider took it; a receipt or an action is awaited before the route
        /// moves on (`routes.<channel>.confirm_within`).
        Awaiting => "awaiting",
    }
}
