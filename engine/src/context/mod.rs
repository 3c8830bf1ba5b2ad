//! What conditions, guards and mail templates see: the names they may read
//! ([`Shape`], checked at load) and the values built from a dossier at run time.

pub(crate) mod shape;
mod template;
mod values;

pub use shape::Shape;
pub use template::TemplateContext;
pub use values::{base_context, candidature_context, PieceView};
pub(crate) use values::{
    candidature_context_and_views, candidature_context_for, lacks_a_piece, piece_views,
    pieces_base, set_formation, CandidatureContexts, Needs,
};
