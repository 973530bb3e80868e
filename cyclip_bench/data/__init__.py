"""Datasets: caption tables, labelled sets (CIFAR, labels.csv, ImageFolder, ImageNet variants), the
generated world, the dataset catalog and the class metadata (names, prompt templates, superclasses) as JSON."""
