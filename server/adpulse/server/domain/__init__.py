"""What adpulse knows independent of transport and storage."""
