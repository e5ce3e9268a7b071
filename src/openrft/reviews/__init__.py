"""Expert review: ratings of completions by the people who define "good", and how far the reward agrees."""
