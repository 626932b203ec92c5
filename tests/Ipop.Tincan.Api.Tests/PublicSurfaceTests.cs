using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// Issue 15's "small untruths" of this package: what it makes public and what its documentation names. The docs are
/// what a new user pastes from, so a type they name must be one the packages ship.
/// </summary>
public sealed partial class PublicSurfaceTests
{
    [Fact]
    public void No_options_validator_is_public_as_in_every_other_package()
    {
        // AddTincanControllerApi registers the validator and the server runs it; a user never needs the type itself,
        // and a public one would be a promise to keep its messages and its place for all of 1.x.
        Type[] validators = [.. typeof(ControllerApiOptions).Assembly.GetExportedTypes()
            .Where(t => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidateOptions<>)))];
        Assert.Empty(validators);
    }

    [Fact]
    public void Hosting_the_server_in_the_docs_names_only_types_the_packages_ship()
    {
        string doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "controller-api.md"));
        string snippet = CodeBlockAfter(doc, "## Hosting the server");

        // Every type a user would write: Ipop's packages (Abstractions, Tincan, Tap, Tincan.Api) and the BCL. "My..."
        // stands for the user's own type.
        Assembly[] shipped = [typeof(ITincan).Assembly, typeof(TincanOptions).Assembly, typeof(Ipop.Tap.LinuxTunTapFactory).Assembly, typeof(ControllerApiOptions).Assembly];
        var names = new HashSet<string>(shipped.SelectMany(a => a.GetExportedTypes()).Select(t => t.Name.Split('`')[0]), StringComparer.Ordinal);
        string code = Strings().Replace(Comments().Replace(Usings().Replace(snippet, string.Empty), string.Empty), "\"\"");
        string[] unknown = [.. TypeNames().Matches(code).Select(m => m.Value)
            .Where(n => !n.StartsWith("My", StringComparison.Ordinal) && !names.Contains(n) && Type.GetType("System." + n) is null)
            .Distinct()];
        Assert.True(unknown.Length == 0, $"docs/controller-api.md, Hosting the server, names types no package has: {string.Join(", ", unknown)}\n{snippet}");
        Assert.Contains("AddTincanControllerApi", snippet, StringComparison.Ordinal);
    }

    private static string CodeBlockAfter(string doc, string heading)
    {
        int at = doc.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(at >= 0, $"docs/controller-api.md has no heading '{heading}'");
        int start = doc.IndexOf("```csharp\n", at, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no csharp block after '{heading}'");
        start += "```csharp\n".Length;
        return doc[start..doc.IndexOf("\n```", start, StringComparison.Ordinal)];
    }

    private static string RepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Ipop.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("no Ipop.sln above " + AppContext.BaseDirectory);
    }

    // A capitalized identifier that is not a member access (".SocketPath"), once comments and strings are gone.
    [GeneratedRegex(@"(?<![.\w])[A-Z][A-Za-z0-9]*\b")]
    private static partial Regex TypeNames();

    [GeneratedRegex(@"^using [^\n]*", RegexOptions.Multiline)]
    private static partial Regex Usings();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex Comments();

    [GeneratedRegex(@"""[^""\n]*""")]
    private static partial Regex Strings();
}
