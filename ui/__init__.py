"""Streamlit-side helpers shared by studio.py and the pages: cached resources and session state.

The computing lives in `simplecnn`; this package only wires it to Streamlit.
"""
