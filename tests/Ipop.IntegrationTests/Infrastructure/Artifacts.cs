namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>Locates the built programs that end-to-end tests start as separate processes.</summary>
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

    /// <summary>The configuration this test assembly was built in; the programs are built in the same one.</summary>
    private static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string RepositoryRoot => Root.Value;

    public static string Program(string projectDirectory, string assemblyName)
    {
        string path = Path.Combine(Root.Value, projectDirectory, "bin", Configuration, "net10.0", assemblyName + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{assemblyName} is not built at {path}; build Ipop.sln in {Configuration} first.");
    }

    public static string TincanHost => Program("tools/Ipop.TincanHost", "ipop-tincan");

    public static string GroupVpnHost => Program("samples/GroupVpnHost", "groupvpn");

    public static string SocialVpnHost => Program("samples/SocialVpnHost", "socialvpn");
}
