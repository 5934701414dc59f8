//! Newtype ids, so that an item id cannot be passed where a user id is expected.
//! Rows load them from `BigInt` columns through `#[diesel(deserialize_as = i64)]`.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($name:ident),+ $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl From<i64> for $name {
            fn from(value: i64) -> Self {
                $name(value)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )+};
}

id_type!(UserId, ProjectId, ItemId, CommentId, AttachmentId, TokenId, TypeId, StatusId, PriorityId, FieldId, ChoiceId);
