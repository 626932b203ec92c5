namespace Ipop.IntegrationTests.Sdk;

/// <summary>
/// Issue 15: the documentation's C# cannot drift from code that compiles. The README's first block is
/// samples/ReadmeExample/Program.cs byte for byte; every other block of README.md and docs/*.md is a region of
/// samples/ReadmeExample/Snippets. <see cref="ReadmeExampleTests"/> builds that project from the packed packages.
/// </summary>
public sealed class DocSnippetTests
{
    [Fact]
    public void The_READMEs_first_csharp_block_is_the_ReadmeExample_program()
    {
        (string file, int line, string code) = DocSnippets.Blocks().First(b => b.File == "README.md");
        string program = File.ReadAllText(Path.Combine(DocSnippets.SampleDirectory, "Program.cs")).ReplaceLineEndings("\n");

        Assert.True(program == code, $"{file}:{line}: the first ```csharp block differs from samples/ReadmeExample/Program.cs; copy one to the other.");
    }

    [Fact]
    public void Every_other_csharp_block_of_the_README_and_docs_is_a_compiled_snippet()
    {
        Dictionary<string, string> regions = DocSnippets.Regions();
        string program = File.ReadAllText(Path.Combine(DocSnippets.SampleDirectory, "Program.cs")).ReplaceLineEndings("\n");
        var blocks = DocSnippets.Blocks().ToList();
        var uncompiled = blocks
            .Where(b => b.Code != program && !regions.ContainsValue(b.Code))
            .Select(b => $"{b.File}:{b.Line}: this ```csharp block is not compiled: make it a // <snippet:name> region of samples/ReadmeExample/Snippets/*.cs (same text, dedented)\n{b.Code}")
            .ToList();

        Assert.True(blocks.Count >= 7, $"found only {blocks.Count} blocks: the extraction is broken");
        Assert.True(uncompiled.Count == 0, string.Join("\n", uncompiled));
    }

    [Fact]
    public void Every_snippet_region_is_shown_in_the_docs()
    {
        var shown = DocSnippets.Blocks().Select(b => b.Code).ToHashSet(StringComparer.Ordinal);
        var unused = DocSnippets.Regions().Where(r => !shown.Contains(r.Value)).Select(r => r.Key).ToList();

        Assert.True(unused.Count == 0, "snippet regions no document shows (a doc block was edited without its region?): " + string.Join(", ", unused));
    }
}
