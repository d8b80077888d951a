# The RubyGems oracle: Gem::Version orders and decomposes versions.
#
# Usage: ruby rubygems.rb INPUT... > expected/rubygems.tsv — see recipe.sh for the columns.

inputs = ARGV.flat_map { |f| File.readlines(f, chomp: true) }
              .map(&:strip).reject { |l| l.empty? || l.start_with?("#") }.uniq
valid = inputs.select { |s| Gem::Version.correct?(s) }.map { |s| [Gem::Version.new(s), s] }
valid.sort! { |(a, sa), (b, sb)| [a <=> b, sa.b <=> sb.b].find { |c| c != 0 } || 0 }

puts "# rubygems #{Gem::VERSION}"
puts "version\trank\tepoch\trelease\tprerelease\tpost"
rank = -1
valid.each_with_index do |(v, s), i|
  rank += 1 if i.zero? || (valid[i - 1][0] <=> v) != 0
  puts [s, rank, 0, v.release.segments.join("."), v.prerelease?, "-"].join("\t")
end
