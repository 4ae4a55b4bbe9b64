"""Where posts come from. Today: a Jekyll source folder (`jekyll`)."""
