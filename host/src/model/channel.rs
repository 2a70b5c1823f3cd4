use super::sql_text::text_enum;

text_enum! {
    /// How a notification reaches a person: the engine's three steps, plus the shift
    /// changes and tests this server sends itself.
    pub enum Channel ("channel") {
        Sms => "sms",
        Call => "call",
        Push => "push",
        Shift => "shift",
        Test => "test",
    }
}
