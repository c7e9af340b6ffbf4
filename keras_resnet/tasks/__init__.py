"""What networks are used for beyond classification: backbones for detection and segmentation."""
