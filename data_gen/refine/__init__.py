"""Stage 4, `refine`: an LLM rewrites each template question for fluency; guards keep the template when it errs.

`rewrite` applies a model's replies to one part of records; `guards` checks each rewrite (answer
leaks, changed answers or options, wrong script, truncation…); `stage` is the driver.
"""
