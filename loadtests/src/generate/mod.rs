//! The seeded generator of Synthea-shaped data: patients with their encounters, observations,
//! conditions, medication requests, diagnostic reports, claims and explanations of benefit,
//! referencing a small pool of organizations, practitioners and locations.
//!
//! Deterministic: the same seed gives byte-identical output. Randomness comes from ChaCha8
//! (`rand_chacha`, whose output for a seed is fixed by the algorithm, not by the crate
//! version), drawn in a fixed order; values are integers formatted as text, never floats, so
//! no platform rounding can change a byte. Ids are derived from the seed and position, so a
//! dataset can be loaded with `PUT [type]/[id]` and re-loaded idempotently.

mod clinical;
mod financial;
mod output;
mod patient;
mod vocabulary;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) use output::transaction_bundle;
pub use output::{generate_dataset, DatasetFormat, DatasetSummary, BUNDLES_FILE, LOAD_ORDER};
pub(crate) use vocabulary::FIXTURE_ONLY_LOINC;

/// How resources of one patient refer to each other. References to the shared organizations,
/// practitioners and locations are always `Type/id`: they are loaded before any patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceStyle {
    /// `Patient/pt-1-0`: for NDJSON loaded with `PUT [type]/[id]`, and PUT transactions.
    Ids,
    /// `urn:uuid:…` matching the entries' `fullUrl`: for transactions of POSTs, where the
    /// server assigns the ids.
    UrnUuid,
}

/// One generated resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub resource_type: &'static str,
    pub id: String,
    pub json: String,
}

impl Resource {
    /// The `urn:uuid:` fullUrl of this resource in a transaction.
    pub fn full_url(&self) -> String {
        format!("urn:uuid:{}", uuid_for(&self.id))
    }
}

/// Sizes of the shared pool, fixed by the requested scale so the pool does not depend on how
/// many patients end up generated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSizes {
    pub(crate) organizations: u32,
    pub(crate) practitioners: u32,
    pub(crate) locations: u32,
}

impl PoolSizes {
    /// About one organization per 50,000 resources and one practitioner per 5,000, as in a
    /// Synthea population of that size.
    pub(crate) fn for_scale(resources: u64) -> PoolSizes {
        let organizations = 3 + u32::try_from(resources / 50_000).unwrap_or(u32::MAX / 2);
        PoolSizes {
            organizations,
            practitioners: 5 + u32::try_from(resources / 5_000).unwrap_or(u32::MAX / 2),
            locations: organizations,
        }
    }
}

/// Generates patients one at a time, so memory stays constant however many are asked for.
pub struct Generator {
    seed: u64,
    rng: Draw,
    references: ReferenceStyle,
    pool: PoolSizes,
    next_patient: u64,
}

impl Generator {
    /// A generator for a dataset of about `scale` resources (which sizes the shared pool).
    pub fn new(seed: u64, references: ReferenceStyle, scale: u64) -> Generator {
        Generator {
            seed,
            rng: Draw::new(seed, 0),
            references,
            pool: PoolSizes::for_scale(scale),
            next_patient: 0,
        }
    }

    /// The organizations, practitioners and locations every patient's resources refer to,
    /// from their own PRNG stream (the result does not depend on when this is called).
    pub fn shared_resources(&self) -> Vec<Resource> {
        patient::shared_resources(self.seed, self.pool, &mut Draw::new(self.seed, 1))
    }

    /// The next patient with everything about them, the Patient first and every resource
    /// after the resources it refers to.
    pub fn next_patient(&mut self) -> Vec<Resource> {
        let index = self.next_patient;
        self.next_patient += 1;
        let context = Context {
            seed: self.seed,
            patient_index: index,
            references: self.references,
            pool: self.pool,
        };
        let mut resources = Vec::with_capacity(48);
        let patient = patient::patient(&context, &mut self.rng);
        let birth_year = patient.birth_year;
        resources.push(patient.resource);
        clinical::encounters(&context, birth_year, &mut self.rng, &mut resources);
        resources
    }
}

/// What the resources of one patient need to know to name and refer to each other.
pub(crate) struct Context {
    pub(crate) seed: u64,
    pub(crate) patient_index: u64,
    pub(crate) references: ReferenceStyle,
    pub(crate) pool: PoolSizes,
}

impl Context {
    /// An id for a resource of this patient: `prefix-seed-patient[-parts…]`.
    pub(crate) fn id(&self, prefix: &str, parts: &[u32]) -> String {
        let mut id = format!("{prefix}-{}-{}", self.seed, self.patient_index);
        for part in parts {
            id.push('-');
            id.push_str(&part.to_string());
        }
        id
    }

    /// A reference to a resource of this patient, in the dataset's reference style.
    pub(crate) fn reference(&self, resource_type: &str, id: &str) -> String {
        match self.references {
            ReferenceStyle::Ids => format!("{resource_type}/{id}"),
            ReferenceStyle::UrnUuid => format!("urn:uuid:{}", uuid_for(id)),
        }
    }

    pub(crate) fn organization(&self, draw: &mut Draw) -> String {
        format!(
            "Organization/{}",
            shared_id("org", self.seed, draw.below(self.pool.organizations))
        )
    }

    pub(crate) fn practitioner(&self, draw: &mut Draw) -> String {
        format!(
            "Practitioner/{}",
            shared_id("prac", self.seed, draw.below(self.pool.practitioners))
        )
    }

    pub(crate) fn location(&self, draw: &mut Draw) -> String {
        format!(
            "Location/{}",
            shared_id("loc", self.seed, draw.below(self.pool.locations))
        )
    }
}

pub(crate) fn shared_id(prefix: &str, seed: u64, index: u32) -> String {
    format!("{prefix}-{seed}-{index}")
}

/// A UUID-shaped name derived from an id (two FNV-1a hashes), so `urn:uuid:` fullUrls are as
/// deterministic as the ids and need no PRNG draws.
pub(crate) fn uuid_for(id: &str) -> String {
    let fnv = |offset: u64| {
        id.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let high = fnv(0xcbf2_9ce4_8422_2325);
    let low = fnv(0x6c62_272e_07bb_0142);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0x0fff,
        0x8000 | ((low >> 48) & 0x3fff),
        low & 0xffff_ffff_ffff
    )
}

/// The PRNG with the few draws the generator needs.
pub(crate) struct Draw {
    rng: ChaCha8Rng,
}

impl Draw {
    fn new(seed: u64, stream: u64) -> Draw {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw { rng }
    }

    /// Uniform in `0..bound` (multiply-shift; the bias is below 2^-32 for these bounds).
    pub(crate) fn below(&mut self, bound: u32) -> u32 {
        ((u64::from(self.rng.next_u32()) * u64::from(bound)) >> 32) as u32
    }

    /// Uniform in `low..=high`.
    pub(crate) fn between(&mut self, low: u32, high: u32) -> u32 {
        low + self.below(high - low + 1)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
}

/// A calendar date with the day at most 28, so every month has it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Day {
    pub(crate) year: u32,
    pub(crate) month: u32,
    pub(crate) day: u32,
}

impl Day {
    pub(crate) fn draw(draw: &mut Draw, first_year: u32, last_year: u32) -> Day {
        Day {
            year: draw.between(first_year, last_year),
            month: draw.between(1, 12),
            day: draw.between(1, 28),
        }
    }

    pub(crate) fn date(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// The instant `minutes` after midnight UTC of this day.
    pub(crate) fn at(self, minutes: u32) -> String {
        format!(
            "{}T{:02}:{:02}:00+00:00",
            self.date(),
            minutes / 60,
            minutes % 60
        )
    }
}

/// `tenths` as a decimal with one digit after the point.
pub(crate) fn decimal_tenths(tenths: u32) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The vocabulary values the search scenarios vary their timed queries over.
pub(crate) mod vocabulary_for_search {
    use super::vocabulary::{FAMILY_NAMES, OBSERVATIONS, TOWNS};

    pub(crate) fn family_names() -> impl Iterator<Item = &'static str> + Clone {
        FAMILY_NAMES.iter().copied()
    }

    /// The towns organization names start with.
    pub(crate) fn towns() -> impl Iterator<Item = &'static str> + Clone {
        TOWNS.iter().map(|(town, _)| *town)
    }

    pub(crate) fn loinc_codes() -> impl Iterator<Item = &'static str> + Clone {
        OBSERVATIONS.iter().map(|kind| kind.code)
    }
}
