"""Figures: every chart and picture the app shows, from plain numbers (Plotly / numpy; no torch, no streamlit)."""
