using System.Text.RegularExpressions;
using Ipop.Lab;
using Ipop.Tincan.Api.Internal;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// The exact JSON of every request, response and event, as snapshots; docs/controller-api.md shows the same
/// snapshots, and a test keeps the two byte-identical (run with IPOP_UPDATE_DOCS=1 to rewrite the doc's
/// example blocks from the verified snapshots).
/// </summary>
public sealed partial class TranscriptTests
{
    public static TheoryData<string> Names => [.. Scenarios.All.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Transcript(string name)
    {
        await using ApiHarness h = await ApiHarness.StartAsync(Scenarios.Options(name), Scenarios.WithInterfaces(name));
        var transcript = new Transcript(await h.ConnectAsync());
        await Scenarios.All[name](h, transcript);
        Snapshot.Verify(transcript.ToString(), name);
    }

    [Fact]
    public void Every_operation_event_and_error_code_has_a_transcript()
    {
        foreach (string op in ControllerApiServer.OperationNamesForTests)
        {
            Assert.True(Scenarios.All.ContainsKey(op), $"no transcript for operation {op}");
        }

        foreach (string kind in EventKindNames.Subscribable.Append(EventKindNames.EventsDropped))
        {
            Assert.True(Scenarios.All.ContainsKey("event." + kind), $"no transcript for event {kind}");
        }

        foreach (string code in ApiErrorCodes.All)
        {
            Assert.True(Scenarios.All.ContainsKey("error." + code), $"no transcript for error code {code}");
        }
    }

    [Fact]
    public void Every_error_transcript_shows_its_code()
    {
        foreach (string code in ApiErrorCodes.All)
        {
            Assert.Contains($"\"code\":\"{code}\"", File.ReadAllText(VerifiedPath("error." + code)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Doc_examples_are_the_verified_transcripts()
    {
        string docPath = DocPath();
        string doc = File.ReadAllText(docPath).Replace("\r\n", "\n", StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("IPOP_UPDATE_DOCS") == "1")
        {
            doc = ExampleBlock().Replace(doc, m => $"<!-- transcript: {m.Groups["name"].Value} -->\n```text\n{File.ReadAllText(VerifiedPath(m.Groups["name"].Value))}```");
            File.WriteAllText(docPath, doc);
        }

        var shown = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in ExampleBlock().Matches(doc))
        {
            string name = m.Groups["name"].Value;
            Assert.True(Scenarios.All.ContainsKey(name), $"docs/controller-api.md shows transcript '{name}', which no test produces");
            Assert.True(
                File.ReadAllText(VerifiedPath(name)) == m.Groups["body"].Value,
                $"docs/controller-api.md example '{name}' differs from {Path.GetFileName(VerifiedPath(name))}; run the tests with IPOP_UPDATE_DOCS=1 to update the doc.");
            shown.Add(name);
        }

        Assert.Equal([], Scenarios.All.Keys.Where(n => !shown.Contains(n)).ToArray());
    }

    private static string VerifiedPath(string name, [System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, $"TranscriptTests.Transcript.{name}.verified.txt");

    private static string DocPath([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "docs", "controller-api.md"));

    [GeneratedRegex(@"<!-- transcript: (?<name>[a-z_.]+) -->\n```text\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex ExampleBlock();
}
