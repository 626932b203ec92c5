using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Ipop.IntegrationTests.Infrastructure;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// The NuGet packages as they ship: what <c>dotnet pack Ipop.sln -c Release -o artifacts/packages</c> made (scripts/test.sh
/// packs before the tests run). Every src/ project has a package whose nuspec names the project, its repository and
/// commit, tags and a readme; the symbol packages' PDBs and the assemblies' debug directories hold only /_/ paths
/// (no build machine path leaks into a package); and a package depends only on other Ipop packages of the same
/// version or on Microsoft.* / NSec.* packages. Each test collects every problem and reports them all at once.
/// </summary>
public sealed partial class NuGetPackageTests
{
    /// <summary>The one address the packages name as project page and repository (src/Directory.Build.props).</summary>
    private const string RepositoryUrl = "https://github.com/ipop-project/ipop-dotnet";

    private static string Root => Artifacts.RepositoryRoot;

    [Fact]
    public void Every_src_project_has_a_package_with_complete_metadata()
    {
        string version = RepositoryVersion();
        string[] packages = Packages("*.nupkg");
        var problems = new List<string>();

        foreach (string project in Directory.GetDirectories(Path.Combine(Root, "src")).Where(d => File.Exists(Path.Combine(d, Path.GetFileName(d) + ".csproj"))))
        {
            string id = Path.GetFileName(project);
            if (!packages.Any(p => Path.GetFileName(p).Equals($"{id}.{version}.nupkg", StringComparison.Ordinal)))
            {
                problems.Add($"{id}: no {id}.{version}.nupkg in artifacts/packages");
            }
        }

        bool licenseFile = Directory.EnumerateFiles(Root, "LICENSE*").Any();
        foreach (string package in packages)
        {
            string name = Path.GetFileName(package);
            using ZipArchive zip = ZipFile.OpenRead(package);
            XElement metadata = Metadata(zip);
            string Field(string field) => metadata.Element(metadata.Name.Namespace + field)?.Value.Trim() ?? string.Empty;
            void Require(bool ok, string what)
            {
                if (!ok)
                {
                    problems.Add($"{name}: {what}");
                }
            }

            string id = Field("id");
            Require(id.StartsWith("Ipop.", StringComparison.Ordinal), $"id '{id}' is not an Ipop package");
            Require(Field("version") == version, $"version '{Field("version")}', expected '{version}' (Directory.Build.props)");
            Require(Field("description").Length >= 40 && Field("description") != "Package Description", $"description '{Field("description")}' is missing or the SDK default");
            Require(Field("authors").Length > 0, "no authors");
            Require(Field("projectUrl") == RepositoryUrl, $"projectUrl '{Field("projectUrl")}', expected {RepositoryUrl}");
            Require(Field("copyright").Length > 0, "no copyright");

            string[] tags = Field("tags").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Require(tags.Contains("ipop", StringComparer.Ordinal) && tags.Length > 5, $"tags '{Field("tags")}': expected the shared ipop tags plus the package's own");

            XElement? repository = metadata.Element(metadata.Name.Namespace + "repository");
            Require(repository?.Attribute("type")?.Value == "git", "no <repository type=\"git\">");
            Require(repository?.Attribute("url")?.Value == RepositoryUrl, $"repository url '{repository?.Attribute("url")?.Value}', expected {RepositoryUrl}");
            Require(CommitHash().IsMatch(repository?.Attribute("commit")?.Value ?? string.Empty), $"repository commit '{repository?.Attribute("commit")?.Value}' is not a git commit id");

            string readme = Field("readme");
            Require(readme.Length > 0 && zip.GetEntry(readme) is { Length: > 100 }, $"readme '{readme}' is not declared or not in the package");

            XElement? license = metadata.Element(metadata.Name.Namespace + "license");
            Require(!licenseFile || license is not null, "the repository has a LICENSE file but the package declares no license");
            if (license?.Attribute("type")?.Value == "file")
            {
                Require(zip.GetEntry(license.Value) is not null, $"license file '{license.Value}' is not in the package");
            }

            Require(zip.Entries.Any(e => e.FullName == $"lib/net10.0/{id}.xml"), "no XML documentation (lib/net10.0/<id>.xml)");
        }

        Assert.True(problems.Count == 0, "Package metadata problems:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void Packages_depend_only_on_ipop_packages_of_the_same_version_or_on_microsoft_and_nsec()
    {
        string version = RepositoryVersion();
        var problems = new List<string>();
        foreach (string package in Packages("*.nupkg"))
        {
            using ZipArchive zip = ZipFile.OpenRead(package);
            XElement metadata = Metadata(zip);
            foreach (XElement dependency in metadata.Descendants(metadata.Name.Namespace + "dependency"))
            {
                string id = dependency.Attribute("id")?.Value ?? string.Empty;
                string range = dependency.Attribute("version")?.Value ?? string.Empty;
                bool ok = id.StartsWith("Ipop.", StringComparison.Ordinal)
                    ? range == version || range == $"[{version}]"
                    : id.StartsWith("Microsoft.", StringComparison.Ordinal) || id.StartsWith("NSec.", StringComparison.Ordinal);
                if (!ok)
                {
                    problems.Add($"{Path.GetFileName(package)}: depends on {id} {range}");
                }
            }
        }

        Assert.True(problems.Count == 0, "Unexpected dependencies (only Ipop.* at the same version, Microsoft.* and NSec.* are allowed):\n" + string.Join('\n', problems));
    }

    [Fact]
    public void Symbols_and_assemblies_hold_no_build_machine_paths()
    {
        string root = Root.TrimEnd('/') + "/";
        string[] symbols = Packages("*.snupkg");
        var problems = new List<string>();
        int documents = 0;

        // What a path must not contain: the checkout (wherever it is) and the usual build and temp roots.
        bool Leaks(string path) => !path.StartsWith("/_/", StringComparison.Ordinal)
            || path.Contains(root, StringComparison.Ordinal) || path.Contains("/work/", StringComparison.Ordinal) || path.Contains("/tmp/", StringComparison.Ordinal);

        foreach (string package in symbols)
        {
            using ZipArchive zip = ZipFile.OpenRead(package);
            ZipArchiveEntry[] pdbs = [.. zip.Entries.Where(e => e.FullName.EndsWith(".pdb", StringComparison.Ordinal))];
            if (pdbs.Length == 0)
            {
                problems.Add($"{Path.GetFileName(package)}: no PDB");
            }

            foreach (ZipArchiveEntry entry in pdbs)
            {
                using var pdb = new MemoryStream();
                using (Stream stream = entry.Open())
                {
                    stream.CopyTo(pdb);
                }

                pdb.Position = 0;
                using MetadataReaderProvider provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
                MetadataReader reader = provider.GetMetadataReader();
                foreach (DocumentHandle handle in reader.Documents)
                {
                    string path = reader.GetString(reader.GetDocument(handle).Name);
                    documents++;
                    if (Leaks(path))
                    {
                        problems.Add($"{Path.GetFileName(package)} {entry.FullName}: document {path}");
                    }
                }
            }
        }

        // The assembly's debug directory names its PDB; with a build path there, a debugger (and anyone reading the
        // DLL) learns where it was built.
        foreach (string package in Packages("*.nupkg"))
        {
            using ZipArchive zip = ZipFile.OpenRead(package);
            foreach (ZipArchiveEntry entry in zip.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.FullName.EndsWith(".dll", StringComparison.Ordinal)))
            {
                using var dll = new MemoryStream();
                using (Stream stream = entry.Open())
                {
                    stream.CopyTo(dll);
                }

                dll.Position = 0;
                using var pe = new PEReader(dll);
                foreach (DebugDirectoryEntry debug in pe.ReadDebugDirectory().Where(d => d.Type == DebugDirectoryEntryType.CodeView))
                {
                    string path = pe.ReadCodeViewDebugDirectoryData(debug).Path;
                    if (Leaks(path))
                    {
                        problems.Add($"{Path.GetFileName(package)} {entry.FullName}: PDB path {path}");
                    }
                }
            }
        }

        Assert.True(symbols.Length > 0, "artifacts/packages holds no .snupkg: the packages are packed without symbols (IncludeSymbols in src/Directory.Build.props)");
        Assert.True(documents > 0, "The PDBs list no source documents.");
        Assert.True(problems.Count == 0, $"Build machine paths in {problems.Count} places (expected only /_/ paths; src/Directory.Build.props maps them):\n" + string.Join('\n', problems.Take(40)));
    }

    /// <summary>The packages of one kind in artifacts/packages; a missing or empty feed fails with what to run.</summary>
    private static string[] Packages(string pattern)
    {
        string feed = Path.Combine(Root, "artifacts", "packages");
        string[] found = Directory.Exists(feed) ? Directory.GetFiles(feed, pattern) : [];
        Assert.True(found.Length > 0,
            $"No {pattern} in {feed}. These tests check the packed packages: run `dotnet pack Ipop.sln -c Release -o artifacts/packages` after a Release build (scripts/test.sh does).");
        return found;
    }

    private static XElement Metadata(ZipArchive zip)
    {
        ZipArchiveEntry nuspec = zip.Entries.Single(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using Stream stream = nuspec.Open();
        XElement package = XDocument.Load(stream).Root!;
        return package.Element(package.Name.Namespace + "metadata")!;
    }

    /// <summary>The version every package carries: the <c>Version</c> property of the root Directory.Build.props.</summary>
    private static string RepositoryVersion()
    {
        XElement props = XDocument.Load(Path.Combine(Root, "Directory.Build.props")).Root!;
        return props.Descendants("Version").Single().Value.Trim();
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
