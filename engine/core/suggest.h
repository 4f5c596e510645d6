#pragma once
// "Did you mean ...?" for misspelt keys and names.
#include <string>
#include <vector>

namespace te {

// Levenshtein distance between a and b (case-insensitive).
int edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word`, or "" when none is close enough to be a plausible typo
// (distance at most max(2, |word|/3), or one is a prefix of the other).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

}  // namespace te
