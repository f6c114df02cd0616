//! The fixed vocabularies the generator draws from, in the shapes Synthea uses: names and
//! Massachusetts towns, LOINC observations with plausible ranges, SNOMED CT conditions and
//! encounter types, RxNorm medications. Changing any table changes every dataset's bytes.

pub(crate) const FAMILY_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
];

pub(crate) const GIVEN_NAMES_FEMALE: &[&str] = &[
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Betty",
    "Sandra",
    "Margaret",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
];

pub(crate) const GIVEN_NAMES_MALE: &[&str] = &[
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Christopher",
    "Charles",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Andrew",
    "Paul",
    "Joshua",
];

/// Town and postal code.
pub(crate) const TOWNS: &[(&str, &str)] = &[
    ("Boston", "02101"),
    ("Worcester", "01601"),
    ("Springfield", "01101"),
    ("Cambridge", "02138"),
    ("Lowell", "01850"),
    ("Brockton", "02301"),
    ("Quincy", "02169"),
    ("Lynn", "01901"),
    ("Newton", "02458"),
    ("Somerville", "02143"),
];

pub(crate) const STREETS: &[&str] = &[
    "Main Street",
    "Oak Avenue",
    "Maple Road",
    "Cedar Lane",
    "Elm Street",
    "Pine Street",
    "Washington Street",
    "Park Avenue",
    "Lake Road",
    "Hill Street",
];

/// A LOINC-coded observation: code, display, UCUM unit, and the value range in tenths.
pub(crate) struct ObservationKind {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) low_tenths: u32,
    pub(crate) high_tenths: u32,
    pub(crate) category: &'static str,
}

const fn observation(
    code: &'static str,
    display: &'static str,
    unit: &'static str,
    low_tenths: u32,
    high_tenths: u32,
    category: &'static str,
) -> ObservationKind {
    ObservationKind {
        code,
        display,
        unit,
        low_tenths,
        high_tenths,
        category,
    }
}

/// Does not contain LOINC 2339-0 (glucose in blood): the search scenarios' fixture alone has
/// it, so their check queries match exactly the fixture, however much data is loaded.
pub(crate) const OBSERVATIONS: &[ObservationKind] = &[
    observation("8302-2", "Body Height", "cm", 1500, 1950, "vital-signs"),
    observation("29463-7", "Body Weight", "kg", 450, 1200, "vital-signs"),
    observation(
        "39156-5",
        "Body Mass Index",
        "kg/m2",
        180,
        350,
        "vital-signs",
    ),
    observation("8867-4", "Heart rate", "/min", 550, 1000, "vital-signs"),
    observation(
        "9279-1",
        "Respiratory rate",
        "/min",
        120,
        200,
        "vital-signs",
    ),
    observation("8310-5", "Body temperature", "Cel", 360, 380, "vital-signs"),
    observation(
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "mg/dL",
        1500,
        2600,
        "laboratory",
    ),
    observation("2571-8", "Triglycerides", "mg/dL", 500, 2000, "laboratory"),
    observation(
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        "mg/dL",
        300,
        800,
        "laboratory",
    ),
    observation(
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "%",
        45,
        90,
        "laboratory",
    ),
    observation(
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        "mg/dL",
        700,
        1400,
        "laboratory",
    ),
    observation(
        "6299-2",
        "Urea nitrogen [Mass/volume] in Blood",
        "mg/dL",
        70,
        200,
        "laboratory",
    ),
    observation(
        "38483-4",
        "Creatinine [Mass/volume] in Blood",
        "mg/dL",
        6,
        13,
        "laboratory",
    ),
    observation(
        "72514-3",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "{score}",
        0,
        100,
        "survey",
    ),
];

/// The LOINC code of the observation only the search fixture holds (see [`OBSERVATIONS`]).
pub(crate) const FIXTURE_ONLY_LOINC: (&str, &str) = ("2339-0", "Glucose [Mass/volume] in Blood");

/// LOINC panels for DiagnosticReport.code.
pub(crate) const REPORT_PANELS: &[(&str, &str)] = &[
    ("51990-0", "Basic metabolic panel - Blood"),
    ("57698-3", "Lipid panel with direct LDL - Serum or Plasma"),
    ("58410-2", "CBC panel - Blood by Automated count"),
];

/// SNOMED CT conditions.
pub(crate) const CONDITIONS: &[(&str, &str)] = &[
    ("44054006", "Diabetes mellitus type 2 (disorder)"),
    (
        "38341003",
        "Hypertensive disorder, systemic arterial (disorder)",
    ),
    ("195662009", "Acute viral pharyngitis (disorder)"),
    ("10509002", "Acute bronchitis (disorder)"),
    ("15777000", "Prediabetes (finding)"),
    ("162864005", "Body mass index 30+ - obesity (finding)"),
    ("271737000", "Anemia (disorder)"),
    ("444814009", "Viral sinusitis (disorder)"),
];

/// SNOMED CT encounter types.
pub(crate) const ENCOUNTER_TYPES: &[(&str, &str)] = &[
    ("185349003", "Encounter for check up (procedure)"),
    ("162673000", "General examination of patient (procedure)"),
    ("185345009", "Encounter for symptom (procedure)"),
    ("410620009", "Well child visit (procedure)"),
];

/// RxNorm medications.
pub(crate) const MEDICATIONS: &[(&str, &str)] = &[
    ("314076", "lisinopril 10 MG Oral Tablet"),
    (
        "860975",
        "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
    ),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("313782", "Acetaminophen 325 MG Oral Tablet"),
    ("834061", "Penicillin V Potassium 250 MG Oral Tablet"),
    ("310965", "Ibuprofen 200 MG Oral Tablet"),
];

pub(crate) const ORGANIZATION_NAMES: &[&str] = &[
    "General Hospital",
    "Community Health Center",
    "Family Practice",
    "Medical Center",
    "Urgent Care",
    "Pediatrics",
];

pub(crate) const PAYERS: &[&str] = &[
    "Medicare",
    "Medicaid",
    "Blue Cross Blue Shield",
    "Aetna",
    "UnitedHealthcare",
];
