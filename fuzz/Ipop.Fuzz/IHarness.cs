namespace Ipop.Fuzz;

/// <summary>
/// One fuzz target: feeds <see cref="Run"/>'s input to one parser exactly as the network or a file would. A harness
/// catches only the parser's documented rejection (its exception type or false/enum return); anything else escapes
/// and is a finding.
/// </summary>
internal interface IHarness
{
    /// <summary>The name used on the command line, in fuzz/corpus/NAME and in docs/fuzzing.md.</summary>
    string Name { get; }

    /// <summary>What the harness drives, for the harness list.</summary>
    string Description { get; }

    /// <summary>Runs one input; throws only on a finding.</summary>
    void Run(ReadOnlySpan<byte> input);
}
