using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;

namespace Ipop.IntegrationTests.Sdk;

/// <summary>
/// The C# of the documentation and the files CI compiles: the ```csharp blocks of README.md and docs/*.md, and the
/// regions (<c>// &lt;snippet:name&gt;</c> ... <c>// &lt;/snippet:name&gt;</c>) of samples/ReadmeExample/Snippets/*.cs.
/// </summary>
internal static partial class DocSnippets
{
    public static string SampleDirectory => Path.Combine(Artifacts.RepositoryRoot, "samples", "ReadmeExample");

    /// <summary>Every ```csharp block: the file (relative), the line of its fence, its text with a final newline.</summary>
    public static IEnumerable<(string File, int Line, string Code)> Blocks()
    {
        string root = Artifacts.RepositoryRoot;
        IEnumerable<string> files = [Path.Combine(root, "README.md"), .. Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal)];
        foreach (string file in files)
        {
            string[] lines = File.ReadAllText(file).ReplaceLineEndings("\n").Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() != "```csharp")
                {
                    continue;
                }

                int end = Array.FindIndex(lines, i + 1, l => l.Trim() == "```");
                Assert.True(end > i, $"{file}:{i + 1}: a ```csharp block is not closed.");
                yield return (Path.GetRelativePath(root, file), i + 1, string.Join("\n", lines[(i + 1)..end]) + "\n");
                i = end;
            }
        }
    }

    /// <summary>The snippet regions, dedented, each with a final newline.</summary>
    public static Dictionary<string, string> Regions()
    {
        var regions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(Path.Combine(SampleDirectory, "Snippets"), "*.cs"))
        {
            foreach (Match m in Region().Matches(File.ReadAllText(file).ReplaceLineEndings("\n")))
            {
                Assert.True(regions.TryAdd(m.Groups["name"].Value, Dedent(m.Groups["body"].Value)), $"snippet {m.Groups["name"].Value} is defined twice");
            }
        }

        return regions;
    }

    private static string Dedent(string body)
    {
        string[] lines = body.TrimEnd('\n').Split('\n');
        int indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart(' ').Length);
        return string.Join("\n", lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart(' '))) + "\n";
    }

    [GeneratedRegex(@"^[ \t]*// <snippet:(?<name>[\w-]+)>\n(?<body>.*?)^[ \t]*// </snippet:\k<name>>\n", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Region();
}
