using System.Diagnostics;

namespace Ipop.Fuzz.Tests;

/// <summary>
/// A few seconds of real coverage-guided fuzzing per harness: scripts/fuzz.sh under afl-fuzz with the SharpFuzz
/// instrumented copy of the build (made once, in artifacts/fuzz/bin). Fails on any crash, and when afl-fuzz cannot
/// run the harness at all. The cases of one theory run one after another, so one fuzzer runs at a time.
/// </summary>
public sealed class AflSmokeTests
{
    private const int Seconds = 5;

    public static TheoryData<string> Harnesses => RepositoryPaths.Harnesses();

    [Theory]
    [MemberData(nameof(Harnesses))]
    public async Task Afl_smoke_run_finds_no_crash(string harness)
    {
        string runs = Path.Combine(Path.GetTempPath(), $"ipop-fuzz-smoke-{Environment.ProcessId}");
        var start = new ProcessStartInfo("bash", ["scripts/fuzz.sh", harness, Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // CI builds the solution first: use that Release build instead of building again.
        if (File.Exists(Path.Combine(RepositoryPaths.Root, "fuzz", "Ipop.Fuzz", "bin", "Release", "net10.0", "Ipop.Fuzz.dll")))
        {
            start.Environment["IPOP_FUZZ_NO_BUILD"] = "1";
        }

        start.Environment["IPOP_FUZZ_RUNS"] = runs;
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        finally
        {
            if (Directory.Exists(runs))
            {
                Directory.Delete(runs, recursive: true);
            }
        }

        string text = await output + await error;
        Assert.True(process.ExitCode == 0, $"scripts/fuzz.sh {harness} {Seconds} exited {process.ExitCode}:\n{text}");
        Assert.Matches($@"(?m)^{harness} +\d+ s +\d+ execs +\d+ inputs/s +0 crashes", text);
        TestContext.Current.SendDiagnosticMessage(text);
    }
}
