namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// Locates the built programs that end-to-end tests start as separate processes. A host runs as its Native AOT binary
/// (<c>artifacts/publish/NAME/NAME</c>, from <c>scripts/publish.sh</c>) when that exists, as the product ships; the
/// environment variable <c>IPOP_HOSTS=jit</c> forces the JIT build (<c>dotnet NAME.dll</c>) instead.
/// </summary>
internal static class Artifacts
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Ipop.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("Cannot find the repository root (Ipop.sln) above " + AppContext.BaseDirectory);
    });

    private static readonly Lazy<HostProgram> Tincan = new(() => Host("tools/Ipop.TincanHost", "ipop-tincan"));
    private static readonly Lazy<HostProgram> GroupVpn = new(() => Host("samples/GroupVpnHost", "groupvpn"));
    private static readonly Lazy<HostProgram> SocialVpn = new(() => Host("samples/SocialVpnHost", "socialvpn"));

    /// <summary>The configuration this test assembly was built in; the programs are built in the same one.</summary>
    private static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>True when <c>IPOP_HOSTS=jit</c> asks for the JIT builds even where AOT binaries are published.</summary>
    public static bool ForceJit => string.Equals(Environment.GetEnvironmentVariable("IPOP_HOSTS"), "jit", StringComparison.OrdinalIgnoreCase);

    public static string RepositoryRoot => Root.Value;

    public static string Program(string projectDirectory, string assemblyName)
    {
        string path = Path.Combine(Root.Value, projectDirectory, "bin", Configuration, "net10.0", assemblyName + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{assemblyName} is not built at {path}; build Ipop.sln in {Configuration} first.");
    }

    public static HostProgram TincanHost => Tincan.Value;

    public static HostProgram GroupVpnHost => GroupVpn.Value;

    public static HostProgram SocialVpnHost => SocialVpn.Value;

    private static HostProgram Host(string projectDirectory, string name)
    {
        string native = Path.Combine(Root.Value, "artifacts", "publish", name, name);
        HostProgram host = !ForceJit && File.Exists(native) ? new HostProgram(native, dll: null) : new HostProgram("dotnet", Program(projectDirectory, name));

        // Into the test log (and the console of a manual run): which build the lab tests exercised.
        Console.WriteLine($"lab hosts: {name} runs {(host.IsNative ? "the Native AOT binary" : "the JIT build")} ({host}){(ForceJit ? " because IPOP_HOSTS=jit" : string.Empty)}");
        return host;
    }
}
