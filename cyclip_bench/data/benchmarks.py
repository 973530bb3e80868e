"""Catalog entries for the datasets of DataComp's 38 tasks and CLIP_benchmark's ``vtab+`` collection.

Each entry is named by its class-metadata file stem (``food101``, ``vtab/pets`` → ``pets``) and knows every
CLIP_benchmark/DataComp spelling of the same data (``wds_names``), so ``DATA_ROOT/wds_vtab-pets``,
``DATA_ROOT/wds_vtab-pets_test`` (DataComp's copy) and ``DATA_ROOT/wds_pets`` are all found. A dataset whose
released layout has a reader (``cyclip_bench.data.released.RELEASED_LAYOUTS``) is read from it when no
webdataset copy is there; the others are read from their webdataset copy only. ``cyclip_bench.data.catalog``
registers these entries (``catalog_entries``) at its end, beside its own (CIFAR, the ImageNets, retrieval).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclip_bench.data.metadata import BUILTIN_NAMES, ClassMetadata, builtin_metadata
from cyclip_bench.data.released import RELEASED_LAYOUTS, ReleasedLayout

SPLITS = ("train", "test")
TEST = ("test",)


@dataclass(frozen=True)
class Benchmark:
    """One dataset of the anchors' collections: its catalog ``name`` (= its metadata JSON stem where one
    ships), CLIP_benchmark/DataComp ``wds_names``, the splits its copies may have, and where it is published."""

    name: str
    description: str
    wds_names: tuple[str, ...]
    published: str
    splits: tuple[str, ...] = SPLITS
    kind: str = "labelled"  # the catalog's data kind, by name (``catalog.DATA_KINDS``)

    def metadata(self) -> ClassMetadata | None:
        """The shipped class names and templates, or None: then the wds copy's classnames.txt gives them."""
        return builtin_metadata(self.name) if self.name in BUILTIN_NAMES else None


_VTAB_TFDS = "https://github.com/google-research/task_adaptation (VTAB; TFDS {tfds})"
_WILDS = "https://wilds.stanford.edu/datasets/ ({name}; DataComp's copy: djghosh/wds_wilds-{name}_test)"

BENCHMARKS: tuple[Benchmark, ...] = (
    # --- natural images: the CLIP paper's zero-shot table, CLIP_benchmark's vtab+ and DataComp -----------------
    Benchmark(
        "food101",
        "Food-101: 101 dishes, 25,250 test images",
        ("food101", "vtab/food101"),
        "https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/",
    ),
    Benchmark(
        "sun397",
        "SUN397 scenes: 397 classes (DataComp scores the whole set, 108,754 images)",
        ("sun397", "vtab/sun397"),
        "https://vision.princeton.edu/projects/2010/SUN/ (SUN397.tar.gz)",
    ),
    Benchmark(
        "cars",
        "Stanford Cars: 196 models, 8,041 test images",
        ("cars", "vtab/cars"),
        "https://ai.stanford.edu/~jkrause/cars/car_dataset.html (images + devkit + cars_test_annos_withlabels.mat)",
    ),
    Benchmark(
        "fgvc_aircraft",
        "FGVC Aircraft: 100 variants, 3,333 test images (main metric: mean per-class recall)",
        ("fgvc_aircraft",),
        "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz)",
    ),
    Benchmark(
        "dtd",
        "Describable Textures: 47 textures, 1,880 test images (split 1)",
        ("vtab/dtd", "dtd"),
        "https://www.robots.ox.ac.uk/~vgg/data/dtd/ (dtd-r1.0.1.tar.gz)",
    ),
    Benchmark(
        "pets",
        "Oxford-IIIT Pets: 37 breeds, 3,669 test images (main metric: mean per-class recall)",
        ("vtab/pets", "pets"),
        "https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz, annotations.tar.gz)",
    ),
    Benchmark(
        "caltech101",
        "Caltech-101: 102 classes with background (main metric: mean per-class recall)",
        ("vtab/caltech101", "caltech101"),
        "https://data.caltech.edu/records/mzrjq-6wc02 (101_ObjectCategories)",
    ),
    Benchmark(
        "flowers",
        "Oxford Flowers-102: 102 species, 6,149 test images (main metric: mean per-class recall)",
        ("vtab/flowers", "flowers"),
        "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, imagelabels.mat, setid.mat)",
    ),
    Benchmark(
        "mnist",
        "MNIST digits: 10,000 test images",
        ("mnist",),
        "https://yann.lecun.com/exdb/mnist/ (the four idx files)",
    ),
    Benchmark(
        "stl10",
        "STL-10: 10 classes, 8,000 test images",
        ("stl10",),
        "https://cs.stanford.edu/~acoates/stl10/ (stl10_binary.tar.gz)",
    ),
    Benchmark(
        "fer2013",
        "FER2013 facial expressions: 7 classes (Kaggle folder layout)",
        ("fer2013",),
        "https://www.kaggle.com/datasets/msambare/fer2013",
    ),
    Benchmark(
        "voc2007",
        "PASCAL VOC2007 object crops: 20 classes, 14,976 test crops",
        ("voc2007",),
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
    ),
    Benchmark(
        "voc2007_multilabel",
        "PASCAL VOC2007 whole images, multilabel: 20 classes, 4,952 test images (main metric: 11-point mAP)",
        ("voc2007_multilabel",),
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
        kind="multilabel",
    ),
    # --- ImageNet distribution shifts not in the catalog's core -----------------------------------------------
    Benchmark(
        "imagenet-o",
        "ImageNet-O: 200 ImageNet classes, 2,000 out-of-distribution images",
        ("imagenet-o",),
        "https://github.com/hendrycks/natural-adv-examples (imagenet-o.tar)",
        splits=TEST,
    ),
    Benchmark(
        "objectnet",
        "ObjectNet: the 113 classes that map onto ImageNet, 18,574 test images",
        ("objectnet",),
        "https://objectnet.mit.edu/ (objectnet-1.0.zip, password-protected, with its mappings/ folder)",
        splits=TEST,
    ),
    # --- specialized / structured (VTAB) and OCR -----------------------------------------------------------
    Benchmark(
        "eurosat",
        "EuroSAT RGB: 10 land-use classes (VTAB split: 5,400 test images)",
        ("vtab/eurosat", "eurosat"),
        "https://github.com/phelber/EuroSAT (EuroSAT.zip, RGB)",
    ),
    Benchmark(
        "gtsrb",
        "German Traffic Sign Recognition: 43 signs, 12,630 test images",
        ("gtsrb",),
        "https://benchmark.ini.rub.de/gtsrb_dataset.html (GTSRB_Final_Training_Images, Final_Test, GT-final_test)",
    ),
    Benchmark(
        "country211",
        "Country211 geolocation: 211 countries, 21,100 test images",
        ("country211",),
        "https://github.com/openai/CLIP/blob/main/data/country211.md",
    ),
    Benchmark(
        "pcam",
        "PatchCamelyon: 2 classes, 32,768 test patches",
        ("vtab/pcam", "pcam"),
        "https://github.com/basveeling/pcam (camelyonpatch_level_2_split_*_{x,y}.h5)",
    ),
    Benchmark(
        "renderedsst2",
        "Rendered SST2: sentiment of rendered sentences, 1,821 test images",
        ("renderedsst2",),
        "https://github.com/openai/CLIP/blob/main/data/rendered-sst2.md",
    ),
    Benchmark(
        "svhn",
        "SVHN cropped digits: 10 classes, 26,032 test images",
        ("vtab/svhn", "svhn"),
        "http://ufldl.stanford.edu/housenumbers/ (format 2: train_32x32.mat, test_32x32.mat)",
    ),
    Benchmark(
        "resisc45",
        "NWPU-RESISC45 remote sensing: 45 scene classes (VTAB split: 6,300 test images)",
        ("vtab/resisc45", "resisc45"),
        _VTAB_TFDS.format(tfds="resisc45, manual download of NWPU-RESISC45.rar"),
    ),
    Benchmark(
        "kitti_closest_vehicle_distance",
        "KITTI closest-vehicle distance: 4 bins (VTAB), 711 test images",
        ("vtab/kitti_closest_vehicle_distance", "kitti_closest_vehicle_distance"),
        "https://www.cvlibs.net/datasets/kitti/eval_object.php (left color images, training labels)",
    ),
    Benchmark(
        "clevr_count_all",
        "CLEVR object count: 8 classes (3..10 objects), 15,000 test images (VTAB: CLEVR's validation set)",
        ("vtab/clevr_count_all", "clevr_count_all"),
        "https://cs.stanford.edu/people/jcjohns/clevr/ (CLEVR_v1.0.zip)",
    ),
    Benchmark(
        "clevr_closest_object_distance",
        "CLEVR closest-object distance: 6 bins (VTAB), 15,000 test images (CLEVR's validation set)",
        ("vtab/clevr_closest_object_distance", "clevr_closest_object_distance"),
        "https://cs.stanford.edu/people/jcjohns/clevr/ (CLEVR_v1.0.zip)",
    ),
    Benchmark(
        "dmlab",
        "DMLab: 6 object/distance classes (VTAB)",
        ("vtab/dmlab", "dmlab"),
        _VTAB_TFDS.format(tfds="dmlab"),
    ),
    Benchmark(
        "diabetic_retinopathy",
        "Diabetic retinopathy grades 0..4 (VTAB, btgraham-300)",
        ("vtab/diabetic_retinopathy", "diabetic_retinopathy"),
        "https://www.kaggle.com/c/diabetic-retinopathy-detection (TFDS diabetic_retinopathy_detection)",
    ),
    Benchmark(
        "dsprites_label_orientation",
        "dSprites orientation: 16 bins (VTAB)",
        ("vtab/dsprites_label_orientation",),
        "https://github.com/google-deepmind/dsprites-dataset",
    ),
    Benchmark(
        "dsprites_label_x_position",
        "dSprites x position: 16 bins (VTAB)",
        ("vtab/dsprites_label_x_position",),
        "https://github.com/google-deepmind/dsprites-dataset",
    ),
    Benchmark(
        "dsprites_label_y_position",
        "dSprites y position: 16 bins (VTAB)",
        ("vtab/dsprites_label_y_position",),
        "https://github.com/google-deepmind/dsprites-dataset",
    ),
    Benchmark(
        "smallnorb_label_azimuth",
        "smallNORB azimuth: 18 classes (VTAB)",
        ("vtab/smallnorb_label_azimuth",),
        "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/",
    ),
    Benchmark(
        "smallnorb_label_elevation",
        "smallNORB elevation: 9 classes (VTAB)",
        ("vtab/smallnorb_label_elevation",),
        "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/",
    ),
    # --- DataComp's WILDS and fairness tasks (their copies hold a test split only) ----------------------------
    Benchmark(
        "camelyon17",
        "WILDS Camelyon17: tumour or not, 2 classes, 85,054 test patches",
        ("wilds/camelyon17",),
        _WILDS.format(name="camelyon17"),
        splits=TEST,
    ),
    Benchmark(
        "fmow",
        "WILDS FMoW: 62 land-use classes, 22,108 test images (main metric: worst-region accuracy)",
        ("wilds/fmow",),
        _WILDS.format(name="fmow"),
        splits=TEST,
    ),
    Benchmark(
        "iwildcam",
        "WILDS iWildCam: 182 species, 42,791 test images (main metric: macro F1); names from classnames.txt",
        ("wilds/iwildcam",),
        _WILDS.format(name="iwildcam"),
        splits=TEST,
    ),
    Benchmark(
        "dollar_street",
        "Dollar Street: 58 classes, 3,503 test images (main metric: worst-group top-5); names from classnames.txt",
        ("fairness/dollar_street",),
        "https://www.kaggle.com/datasets/mlcommons/the-dollar-street-dataset "
        "(DataComp's copy: djghosh/wds_fairness-dollar_street_test)",
        splits=TEST,
    ),
    Benchmark(
        "geode",
        "GeoDE: 40 objects across regions, 12,488 test images (main metric: worst-region accuracy); names from "
        "classnames.txt",
        ("fairness/geode",),
        "https://geodiverse-data-collection.cs.princeton.edu/ (DataComp's copy: djghosh/wds_fairness-geode_test)",
        splits=TEST,
    ),
)
# Names the catalog already registers whose other CLIP_benchmark/DataComp spellings it lists itself: cifar10
# (vtab/cifar10), cifar100 (vtab/cifar100), imagenet1k, imagenetv2, imagenet_sketch, imagenet-a/-r, flickr30k
# and mscoco (DataComp's retrieval/... names).


Missing = Callable[[str, Path], Exception]


def _wds_only(name: str, missing: Missing) -> Callable[[Path, str, Any], Any]:
    def build(root: Path, split: str, transform: Any) -> Any:
        # Reached only when no webdataset copy is under root: this dataset has no released-layout reader.
        raise missing(name, root)

    return build


def _fields(benchmark: Benchmark, missing: Missing) -> dict[str, Any]:
    """The ``catalog.DatasetEntry`` fields: its released layout's reader where ``RELEASED_LAYOUTS`` has one, else
    webdataset only (``released`` empty: a missing copy is reported as such)."""
    layout: ReleasedLayout | None = RELEASED_LAYOUTS.get(benchmark.name)
    common = {
        "kind": benchmark.kind,
        "splits": benchmark.splits,
        "description": benchmark.description,
        "wds_names": benchmark.wds_names,
        "published": benchmark.published,
        "metadata": benchmark.metadata if benchmark.name in BUILTIN_NAMES else None,
    }
    if layout is None:
        location = f"DATA_ROOT/wds_{benchmark.wds_names[0].replace('/', '-')} (webdataset copy only)"
        return {**common, "location": location, "build": _wds_only(benchmark.name, missing), "released": {}}
    return {**common, "location": layout.location, "build": layout.builder(benchmark.name), "released": layout.released}


def catalog_entries(missing: Missing) -> list[tuple[str, dict[str, Any]]]:
    """(name, ``DatasetEntry`` fields) of every ``BENCHMARKS`` dataset, for ``cyclip_bench.data.catalog`` to
    register; ``missing(name, data_root)`` is the error of a dataset found in neither layout."""
    return [(b.name, _fields(b, missing)) for b in BENCHMARKS]
