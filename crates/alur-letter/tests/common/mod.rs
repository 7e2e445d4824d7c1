//! Fixed letters for the example services: stable token, number and date, so snapshots are too.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use alur_core::ServiceDefinition;
use alur_core::region::RegionIndex;
use alur_letter::{Delegation, DelegationKind, Kop, LetterView, SignerSnapshot};

pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/config/kepri")
}

pub fn services() -> Vec<Arc<ServiceDefinition>> {
    let config = alur_core::load_dir(config_dir()).expect("the example configuration loads");
    config.services.values().cloned().collect()
}

pub fn service(id: &str) -> Arc<ServiceDefinition> {
    services()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no example service {id}"))
}

fn value(service: &str, id: &str) -> &'static str {
    match (service, id) {
        ("batam-keterangan-usaha", "keperluan") => return "Pengajuan Kredit Usaha Rakyat (KUR)",
        ("batam-penghasilan-ortu", "keperluan") => return "Pengajuan beasiswa daerah",
        ("batam-sktm-kesehatan", "keperluan") => return "Keringanan biaya rawat inap",
        ("batam-pengantar-skck", "keperluan") => return "Melamar pekerjaan",
        ("batam-sktm", "keperluan") => return "Pendaftaran bantuan sosial",
        ("bintan-sktm-desa", "keperluan") => return "Keringanan biaya pendidikan",
        ("bintan-sktm-desa", "alamat") => {
            return "Jalan Lintas Timur KM 24, RT 001/RW 002, Desa Gunung Kijang";
        }
        ("natuna-keterangan-pindah", "nama") => return "Zainal Abidin",
        _ => {}
    }
    match id {
        "nama" => "Siti Aminah",
        "alamat" => "Perumahan Taman Baloi Blok C No. 12, RT 002/RW 005",
        "keperluan" => "Persyaratan pembukaan rekening bank",
        "nama-usaha" => "Warung Makan Bu Siti",
        "jenis-usaha" => "Usaha mikro kuliner",
        "alamat-usaha" => "Jalan Raja Isa No. 8, Taman Baloi",
        "nama-ortu" => "Ahmad Fauzi",
        "pekerjaan" => "Buruh harian lepas",
        "penghasilan" => "Rp 2.100.000",
        "nama-anak" => "Nurul Fauziah",
        "nama-sekolah" => "SMA Negeri 3 Batam",
        "nama-pasien" => "Darmawati",
        "hubungan" => "Anak kandung",
        "fasilitas-kesehatan" => "RSUD Embung Fatimah",
        "uraian" => "Lampu jalan di RT 002/RW 005 padam sejak dua minggu",
        "harapan" => "Lampu jalan segera diperbaiki",
        "klasifikasi" => "ringan",
        "tanggapan" => {
            "Permohonan perbaikan telah diteruskan ke Dinas Perhubungan pada 2 Maret 2026"
        }
        "nama-almarhum" => "Ismail bin Harun",
        "tanggal-kematian" => "Senin, 2 Maret 2026",
        "tempat-kematian" => "Rumah duka, Desa Pulau Moro",
        "sebab-kematian" => "Sakit",
        "nama-pelapor" => "Rohani",
        "hubungan-pelapor" => "Istri",
        "alamat-asal" => "Jalan Datuk Kaya Wan Muhammad Benteng, Ranai",
        "alamat-tujuan" => "Jalan Sudirman No. 5, Tanjungpinang",
        "alasan-pindah" => "Pekerjaan",
        "anggota-pindah" => "Rina (istri), Fajar (anak)",
        "nama-calon-suami" => "Muhammad Rizki",
        "nama-calon-istri" => "Aisyah Putri",
        "status" => "Jejaka / perawan",
        "rencana-nikah" => "Sabtu, 18 April 2026, KUA Kecamatan Tanjungpinang Timur",
        "telepon" => "081234567890",
        "email" => "pemohon@example.com",
        "kontak" => "whatsapp",
        _ => "Contoh",
    }
}

/// A unit where the service runs, and who signs there.
fn issuer(service: &ServiceDefinition) -> (&'static str, &'static str, SignerSnapshot) {
    let lurah = |unit: &str| SignerSnapshot {
        name: "Rahmat Hidayat, S.STP.".into(),
        nip: Some("198203152005011002".into()),
        position: format!("Lurah {unit}"),
        delegation: None,
    };
    match service.id.as_str() {
        "bintan-sktm-desa" => (
            "21.01.04.2001",
            "Bintan",
            SignerSnapshot {
                name: "Zulkifli".into(),
                nip: None,
                position: "Kepala Desa Gunung Kijang".into(),
                delegation: None,
            },
        ),
        "karimun-keterangan-kematian" => (
            "21.02.01.2014",
            "Karimun",
            SignerSnapshot {
                name: "Abdul Rahman".into(),
                nip: None,
                position: "Kepala Desa Pulau Moro".into(),
                delegation: None,
            },
        ),
        "natuna-keterangan-pindah" => (
            "21.03.10",
            "Natuna",
            SignerSnapshot {
                name: "Hendra Saputra, S.Sos., M.Si.".into(),
                nip: Some("197805122003121004".into()),
                position: "Camat Pulau Laut".into(),
                delegation: None,
            },
        ),
        "tanjungpinang-pengantar-nikah" => ("21.72.01.1002", "Tanjung Pinang", lurah("Kemboja")),
        // An acting official (Plh.) and a delegated signature (a.n.) among the Batam letters.
        "batam-sktm-kesehatan" => (
            "21.71.10.1002",
            "Batam",
            SignerSnapshot {
                name: "Dewi Lestari, S.E.".into(),
                nip: Some("198507212010012015".into()),
                position: "Sekretaris Kelurahan Taman Baloi".into(),
                delegation: Some(Delegation {
                    kind: DelegationKind::Plh,
                    principal_position: "Lurah Taman Baloi".into(),
                }),
            },
        ),
        "batam-pengaduan" => (
            "21.71.10.1002",
            "Batam",
            SignerSnapshot {
                name: "Dewi Lestari, S.E.".into(),
                nip: Some("198507212010012015".into()),
                position: "Sekretaris Kelurahan Taman Baloi".into(),
                delegation: Some(Delegation {
                    kind: DelegationKind::AtasNama,
                    principal_position: "Lurah Taman Baloi".into(),
                }),
            },
        ),
        _ => ("21.71.10.1002", "Batam", lurah("Taman Baloi")),
    }
}

/// The fixed letter of `service`.
pub fn view(service: &ServiceDefinition) -> LetterView {
    let regions = RegionIndex::embedded().expect("region data");
    let (unit, place, signer) = issuer(service);
    let kop = Kop::from_region(regions, unit).unwrap_or_else(|| panic!("no kop for {unit}"));
    let mut v = LetterView::sample_for(service);
    for f in &service.fields {
        v.fields
            .insert(f.id.clone(), value(&service.id, &f.id).to_owned());
    }
    v.kop = kop;
    v.place = place.into();
    v.signer = signer;
    v.title = service.product.name.to_uppercase();
    v.number = format!(
        "{}/007/{unit}/III/2026",
        service.product.classification.as_deref().unwrap_or("400")
    );
    v.valid_until = match service.product.validity {
        alur_core::model::Validity::Unlimited => None,
        _ => Some(jiff::civil::date(2026, 9, 2)),
    };
    v
}
