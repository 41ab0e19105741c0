"""Files reconcile the hubs: write local status changes back into workplan files, and the offline brief."""
