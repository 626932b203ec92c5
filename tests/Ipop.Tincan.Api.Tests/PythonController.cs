using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Ipop.Tincan.Api.Tests;

/// <summary>Runs samples/python-controller/ipop_controller.py with python3 from PATH.</summary>
internal static class PythonController
{
    public static string? Python { get; } = FindPython();

    public static string ScriptPath([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "samples", "python-controller", "ipop_controller.py"));

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> arguments, TimeSpan timeout) =>
        RunPythonAsync([ScriptPath(), .. arguments], timeout);

    /// <summary>Runs python3 -B (no __pycache__ in the source tree) in the sample's directory.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunPythonAsync(IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Python!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(ScriptPath())!,
        };
        start.ArgumentList.Add("-B");
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ipop_controller.py did not finish within {timeout}.\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string? FindPython()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "python3");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
