namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// How to start one host: the Native AOT binary (<see cref="FileName"/> is the binary, no prefix) or the JIT build
/// (<c>dotnet</c> with the dll as the first argument). Call sites pass <see cref="FileName"/> and <see cref="Args"/>.
/// </summary>
internal sealed class HostProgram(string fileName, string? dll)
{
    /// <summary>The file to execute: the native binary, or <c>dotnet</c>.</summary>
    public string FileName { get; } = fileName;

    /// <summary>True for the Native AOT binary from scripts/publish.sh.</summary>
    public bool IsNative => dll is null;

    /// <summary>The arguments for <paramref name="args"/>: the dll first when it runs under <c>dotnet</c>.</summary>
    public string[] Args(params string[] args) => dll is null ? args : [dll, .. args];

    public override string ToString() => dll is null ? FileName : $"{FileName} {dll}";
}
