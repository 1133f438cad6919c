"""The public web side: chat proxy, embeddable widget, demo pages and the staff callback list."""
