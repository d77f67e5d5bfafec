"""Albanian and Serbian (Latin) texts of the API's error messages, keyed by their English.

`{}` stands for a part that varies (a slug, a code, a number); it is carried over in order.
tests/test_robustness.py checks that every message raised in the code has an entry here.
"""

import re
from functools import lru_cache

# (English, Albanian, Serbian)
CATALOGUE: list[tuple[str, str, str]] = [
    # HTTP and the edge
    (
        "The request could not be parsed; see errors.",
        "Kërkesa nuk mund të lexohej; shih gabimet.",
        "Zahtev nije moguće pročitati; pogledajte greške.",
    ),
    (
        "The request data is invalid; see errors.",
        "Të dhënat e kërkesës janë të pavlefshme; shih gabimet.",
        "Podaci zahteva nisu ispravni; pogledajte greške.",
    ),
    (
        "Too many requests from this client; try again later (see Retry-After).",
        "Shumë kërkesa nga ky klient; provoni përsëri më vonë (shih Retry-After).",
        "Previše zahteva sa ovog klijenta; pokušajte ponovo kasnije (vidi Retry-After).",
    ),
    (
        "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again.",
        "Adresa e kërkuar nuk u gjet në server. Nëse e shkruat vetë, kontrolloni drejtshkrimin "
        "dhe provoni përsëri.",
        "Tražena adresa nije pronađena na serveru. Ako ste je sami upisali, proverite pravopis "
        "i pokušajte ponovo.",
    ),
    (
        "The method is not allowed for the requested URL.",
        "Metoda nuk lejohet për këtë adresë.",
        "Metoda nije dozvoljena za ovu adresu.",
    ),
    (
        "The data value transmitted exceeds the capacity limit.",
        "Të dhënat e dërguara e tejkalojnë kufirin e madhësisë.",
        "Poslati podaci premašuju dozvoljenu veličinu.",
    ),
    (
        "An unexpected error occurred; it has been logged.",
        "Ndodhi një gabim i papritur; është regjistruar.",
        "Došlo je do neočekivane greške; zabeležena je.",
    ),
    (
        "The service is temporarily unavailable; retry later.",
        "Shërbimi është përkohësisht i padisponueshëm; provoni më vonë.",
        "Usluga je privremeno nedostupna; pokušajte kasnije.",
    ),
    (
        "The request took too long; retry later or narrow it.",
        "Kërkesa zgjati shumë; provoni më vonë ose ngushtojeni.",
        "Zahtev je trajao predugo; pokušajte kasnije ili ga suzite.",
    ),
    (
        "A value in the request is out of range or malformed.",
        "Një vlerë në kërkesë është jashtë kufijve ose e keqformuar.",
        "Vrednost u zahtevu je van opsega ili neispravna.",
    ),
    (
        "The request conflicts with data written meanwhile; reload and retry.",
        "Kërkesa bie ndesh me të dhëna të shkruara ndërkohë; ringarkoni dhe provoni përsëri.",
        "Zahtev je u sukobu sa podacima upisanim u međuvremenu; osvežite i pokušajte ponovo.",
    ),
    (
        "The resource changed meanwhile; reload it and try again.",
        "Burimi ndryshoi ndërkohë; ringarkojeni dhe provoni përsëri.",
        "Resurs se u međuvremenu promenio; osvežite ga i pokušajte ponovo.",
    ),
    (
        "The request body must be JSON (Content-Type: application/json).",
        "Trupi i kërkesës duhet të jetë JSON (Content-Type: application/json).",
        "Telo zahteva mora biti JSON (Content-Type: application/json).",
    ),
    ("Invalid JSON body.", "Trup JSON i pavlefshëm.", "Neispravno JSON telo."),
    ("A JSON body is required.", "Kërkohet një trup JSON.", "Potrebno je JSON telo."),
    (
        "The database schema is not at the expected migration.",
        "Skema e bazës së të dhënave nuk është në migrimin e pritur.",
        "Šema baze podataka nije na očekivanoj migraciji.",
    ),
    (
        "The JSON is nested deeper than {} levels.",
        "JSON-i është i ndërthurur më thellë se {} nivele.",
        "JSON je ugnežđen dublje od {} nivoa.",
    ),
    (
        "Must not contain NUL or unpaired surrogate characters.",
        "Nuk duhet të përmbajë NUL ose karaktere zëvendësuese të paçiftuara.",
        "Ne sme sadržati NUL ni neuparene surogatne znakove.",
    ),
    (
        "Keys must not contain NUL or unpaired surrogates.",
        "Çelësat nuk duhet të përmbajnë NUL ose zëvendësues të paçiftuar.",
        "Ključevi ne smeju sadržati NUL ni neuparene surogate.",
    ),
    (
        "Numbers must be finite and at most {} in size.",
        "Numrat duhet të jenë të fundëm dhe jo më të mëdhenj se {}.",
        "Brojevi moraju biti konačni i najviše {} po veličini.",
    ),
    (
        "No resource has a name with control characters.",
        "Asnjë burim nuk ka emër me karaktere kontrolli.",
        "Nijedan resurs nema naziv sa kontrolnim znakovima.",
    ),
    (
        "Must not contain control characters.",
        "Nuk duhet të përmbajë karaktere kontrolli.",
        "Ne sme sadržati kontrolne znakove.",
    ),
    (
        "Must be between {} and {}.",
        "Duhet të jetë ndërmjet {} dhe {}.",
        "Mora biti između {} i {}.",
    ),
    (
        "Must lie between the years {} and {}.",
        "Duhet të jetë ndërmjet viteve {} dhe {}.",
        "Mora biti između {}. i {}. godine.",
    ),
    (
        "Sign in first: send a valid bearer token.",
        "Identifikohuni së pari: dërgoni një token të vlefshëm bearer.",
        "Prvo se prijavite: pošaljite važeći bearer token.",
    ),
    (
        "App Check failed: send a valid X-Firebase-AppCheck token.",
        "App Check dështoi: dërgoni një token të vlefshëm X-Firebase-AppCheck.",
        "App Check nije uspeo: pošaljite važeći X-Firebase-AppCheck token.",
    ),
    # marshmallow's own messages
    (
        "Missing data for required field.",
        "Mungojnë të dhënat për fushën e detyrueshme.",
        "Nedostaju podaci za obavezno polje.",
    ),
    ("Field may not be null.", "Fusha nuk mund të jetë bosh (null).", "Polje ne sme biti null."),
    ("Unknown field.", "Fushë e panjohur.", "Nepoznato polje."),
    ("Invalid input type.", "Lloj i pavlefshëm i të dhënave.", "Neispravan tip podatka."),
    ("Invalid value.", "Vlerë e pavlefshme.", "Neispravna vrednost."),
    ("Not a valid string.", "Nuk është tekst i vlefshëm.", "Nije ispravan tekst."),
    ("Not a valid integer.", "Nuk është numër i plotë i vlefshëm.", "Nije ispravan ceo broj."),
    ("Not a valid number.", "Nuk është numër i vlefshëm.", "Nije ispravan broj."),
    (
        "Not a valid boolean.",
        "Nuk është vlerë logjike e vlefshme.",
        "Nije ispravna logička vrednost.",
    ),
    ("Not a valid datetime.", "Nuk është datë e orë e vlefshme.", "Nije ispravan datum i vreme."),
    (
        "Not a valid aware datetime.",
        "Nuk është datë e orë e vlefshme me zonë kohore.",
        "Nije ispravan datum i vreme sa vremenskom zonom.",
    ),
    ("Not a valid date.", "Nuk është datë e vlefshme.", "Nije ispravan datum."),
    ("Not a valid UUID.", "Nuk është UUID i vlefshëm.", "Nije ispravan UUID."),
    ("Not a valid list.", "Nuk është listë e vlefshme.", "Nije ispravna lista."),
    ("Not a valid mapping type.", "Nuk është objekt i vlefshëm.", "Nije ispravan objekat."),
    ("Not a valid tuple.", "Nuk është varg i vlefshëm.", "Nije ispravna n-torka."),
    (
        "Not a valid email address.",
        "Nuk është adresë email e vlefshme.",
        "Nije ispravna email adresa.",
    ),
    ("Not a valid URL.", "Nuk është URL e vlefshme.", "Nije ispravan URL."),
    ("Not a whole number.", "Nuk është numër i plotë.", "Nije ceo broj."),
    (
        "Special numeric values (nan or infinity) are not permitted.",
        "Vlerat e veçanta numerike (nan ose pafundësi) nuk lejohen.",
        "Posebne brojčane vrednosti (nan ili beskonačno) nisu dozvoljene.",
    ),
    ("Number too large.", "Numri është shumë i madh.", "Broj je prevelik."),
    (
        "String does not match expected pattern.",
        "Teksti nuk përputhet me formën e pritur.",
        "Tekst ne odgovara očekivanom obliku.",
    ),
    ("Must be one of: {}.", "Duhet të jetë një nga: {}.", "Mora biti jedno od: {}."),
    (
        "Must be greater than or equal to {} and less than or equal to {}.",
        "Duhet të jetë më i madh ose i barabartë me {} dhe më i vogël ose i barabartë me {}.",
        "Mora biti veće ili jednako {} i manje ili jednako {}.",
    ),
    (
        "Must be greater than or equal to {}.",
        "Duhet të jetë më i madh ose i barabartë me {}.",
        "Mora biti veće ili jednako {}.",
    ),
    (
        "Must be less than or equal to {}.",
        "Duhet të jetë më i vogël ose i barabartë me {}.",
        "Mora biti manje ili jednako {}.",
    ),
    (
        "Must be greater than {} and less than {}.",
        "Duhet të jetë më i madh se {} dhe më i vogël se {}.",
        "Mora biti veće od {} i manje od {}.",
    ),
    (
        "Length must be between {} and {}.",
        "Gjatësia duhet të jetë ndërmjet {} dhe {}.",
        "Dužina mora biti između {} i {}.",
    ),
    ("Length must be {}.", "Gjatësia duhet të jetë {}.", "Dužina mora biti {}."),
    (
        "Shorter than minimum length {}.",
        "Më i shkurtër se gjatësia minimale {}.",
        "Kraće od najmanje dužine {}.",
    ),
    (
        "Longer than maximum length {}.",
        "Më i gjatë se gjatësia maksimale {}.",
        "Duže od najveće dužine {}.",
    ),
    # reports, comments, idempotency
    (
        "Must be an object {lat, lon} or a GeoJSON Point.",
        "Duhet të jetë objekt {lat, lon} ose GeoJSON Point.",
        "Mora biti objekat {lat, lon} ili GeoJSON Point.",
    ),
    (
        'A GeoJSON location must be {"type": "Point", "coordinates": [lon, lat]}.',
        'Një vendndodhje GeoJSON duhet të jetë {"type": "Point", "coordinates": [lon, lat]}.',
        'GeoJSON lokacija mora biti {"type": "Point", "coordinates": [lon, lat]}.',
    ),
    (
        "Coordinates must be two or three numbers.",
        "Koordinatat duhet të jenë dy ose tre numra.",
        "Koordinate moraju biti dva ili tri broja.",
    ),
    (
        "Must have exactly the keys lat and lon.",
        "Duhet të ketë saktësisht çelësat lat dhe lon.",
        "Mora imati tačno ključeve lat i lon.",
    ),
    (
        "Coordinates must be numbers.",
        "Koordinatat duhet të jenë numra.",
        "Koordinate moraju biti brojevi.",
    ),
    (
        "Coordinates must be finite numbers.",
        "Koordinatat duhet të jenë numra të fundëm.",
        "Koordinate moraju biti konačni brojevi.",
    ),
    (
        "Latitude must be between -90 and 90.",
        "Gjerësia gjeografike duhet të jetë ndërmjet -90 dhe 90.",
        "Geografska širina mora biti između -90 i 90.",
    ),
    (
        "Longitude must be between -180 and 180.",
        "Gjatësia gjeografike duhet të jetë ndërmjet -180 dhe 180.",
        "Geografska dužina mora biti između -180 i 180.",
    ),
    (
        "This location is outside every municipality served by this service.",
        "Kjo vendndodhje është jashtë çdo komune që mbulon ky shërbim.",
        "Ova lokacija je van svih opština koje ova usluga pokriva.",
    ),
    ("Must not be in the future.", "Nuk duhet të jetë në të ardhmen.", "Ne sme biti u budućnosti."),
    (
        "Must be within the last {} days.",
        "Duhet të jetë brenda {} ditëve të fundit.",
        "Mora biti unutar poslednjih {} dana.",
    ),
    (
        "Must be plain text without control characters.",
        "Duhet të jetë tekst i thjeshtë pa karaktere kontrolli.",
        "Mora biti običan tekst bez kontrolnih znakova.",
    ),
    (
        "Must be 16 to 255 printable ASCII characters without spaces (use a UUID).",
        "Duhet të jetë 16 deri në 255 karaktere ASCII të shtypshme pa hapësira (përdorni UUID).",
        "Mora imati 16 do 255 ASCII znakova koji se mogu ispisati, bez razmaka (koristite UUID).",
    ),
    (
        "This Idempotency-Key was already used with a different request body.",
        "Ky Idempotency-Key është përdorur tashmë me një trup tjetër kërkese.",
        "Ovaj Idempotency-Key je već korišćen sa drugim telom zahteva.",
    ),
    (
        "No active category has the code {}.",
        "Asnjë kategori aktive nuk ka kodin {}.",
        "Nijedna aktivna kategorija nema šifru {}.",
    ),
    (
        "No category has the code {}.",
        "Asnjë kategori nuk ka kodin {}.",
        "Nijedna kategorija nema šifru {}.",
    ),
    (
        "Some attribute answers are invalid.",
        "Disa përgjigje të atributeve janë të pavlefshme.",
        "Neki odgovori na atribute nisu ispravni.",
    ),
    (
        "No report matches this id and follow-up token.",
        "Asnjë raport nuk përputhet me këtë id dhe token ndjekjeje.",
        "Nijedna prijava ne odgovara ovom id-u i tokenu za praćenje.",
    ),
    (
        "A report can have at most {} comments from its reporter.",
        "Një raport mund të ketë të shumtën {} komente nga raportuesi.",
        "Prijava može imati najviše {} komentara od podnosioca.",
    ),
    (
        "Only a resolved report can be reopened; this one is {}.",
        "Vetëm një raport i zgjidhur mund të rihapet; ky është {}.",
        "Samo rešena prijava može biti ponovo otvorena; ova je {}.",
    ),
    (
        "A report can be reopened within {} days of its resolution.",
        "Një raport mund të rihapet brenda {} ditëve nga zgjidhja.",
        "Prijava može biti ponovo otvorena u roku od {} dana od rešavanja.",
    ),
    # attribute answers
    ("Must be text.", "Duhet të jetë tekst.", "Mora biti tekst."),
    (
        "This category has no such attribute.",
        "Kjo kategori nuk ka një atribut të tillë.",
        "Ova kategorija nema takav atribut.",
    ),
    ("An answer is required.", "Kërkohet një përgjigje.", "Odgovor je obavezan."),
    (
        "Must be at most {} characters long.",
        "Duhet të jetë të shumtën {} karaktere.",
        "Mora imati najviše {} znakova.",
    ),
    ("Must be a number.", "Duhet të jetë numër.", "Mora biti broj."),
    ("Must be a finite number.", "Duhet të jetë numër i fundëm.", "Mora biti konačan broj."),
    (
        "Must be an ISO 8601 date-time string.",
        "Duhet të jetë datë e orë ISO 8601.",
        "Mora biti datum i vreme u formatu ISO 8601.",
    ),
    (
        "Must include a UTC offset, e.g. 2026-05-01T18:30:00+02:00.",
        "Duhet të përfshijë zhvendosjen nga UTC, p.sh. 2026-05-01T18:30:00+02:00.",
        "Mora sadržati pomak od UTC, npr. 2026-05-01T18:30:00+02:00.",
    ),
    (
        "Must be a date-time between the years 1 and 9999.",
        "Duhet të jetë datë e orë ndërmjet viteve 1 dhe 9999.",
        "Mora biti datum i vreme između 1. i 9999. godine.",
    ),
    ("Must be a list of keys.", "Duhet të jetë listë çelësash.", "Mora biti lista ključeva."),
    (
        "Unknown keys {}; allowed: {}.",
        "Çelësa të panjohur {}; të lejuar: {}.",
        "Nepoznati ključevi {}; dozvoljeni: {}.",
    ),
    ("Must not repeat a key.", "Nuk duhet të përsërisë një çelës.", "Ne sme ponavljati ključ."),
    (
        "Unsupported datatype {}.",
        "Lloj të dhënash i pambështetur {}.",
        "Nepodržan tip podataka {}.",
    ),
    # municipalities and categories
    (
        "No municipality has the slug {}.",
        "Asnjë komunë nuk ka identifikuesin {}.",
        "Nijedna opština nema oznaku {}.",
    ),
    (
        "No municipality has this slug.",
        "Asnjë komunë nuk ka këtë identifikues.",
        "Nijedna opština nema ovu oznaku.",
    ),
    (
        "Must be an IANA time zone such as Europe/Belgrade.",
        "Duhet të jetë zonë kohore IANA si Europe/Belgrade.",
        "Mora biti IANA vremenska zona kao Europe/Belgrade.",
    ),
    (
        "Give the name in sq, sr and en.",
        "Jepni emrin në sq, sr dhe en.",
        "Navedite naziv na sq, sr i en.",
    ),
    (
        "A sensitive category cannot be made non-sensitive.",
        "Një kategori e ndjeshme nuk mund të bëhet jo e ndjeshme.",
        "Osetljiva kategorija ne može postati neosetljiva.",
    ),
    # staff
    (
        "The email or password is wrong.",
        "Email-i ose fjalëkalimi është i gabuar.",
        "Email ili lozinka nisu ispravni.",
    ),
    (
        "Too many failed sign-ins for this account from this client; try again later.",
        "Shumë identifikime të dështuara për këtë llogari nga ky klient; provoni më vonë.",
        "Previše neuspelih prijava na ovaj nalog sa ovog klijenta; pokušajte kasnije.",
    ),
    ("The password is too weak.", "Fjalëkalimi është shumë i dobët.", "Lozinka je preslaba."),
    (
        "Must be at least {} characters long.",
        "Duhet të jetë të paktën {} karaktere.",
        "Mora imati najmanje {} znakova.",
    ),
    (
        "Must not contain the email address.",
        "Nuk duhet të përmbajë adresën email.",
        "Ne sme sadržati email adresu.",
    ),
    (
        "Must not repeat so few characters.",
        "Nuk duhet të përsërisë kaq pak karaktere.",
        "Ne sme ponavljati tako malo znakova.",
    ),
    (
        "Unknown municipalities: {}.",
        "Komuna të panjohura: {}.",
        "Nepoznate opštine: {}.",
    ),
    (
        "A {} needs at least one municipality.",
        "Një {} ka nevojë për të paktën një komunë.",
        "Uloga {} zahteva bar jednu opštinu.",
    ),
    (
        "A {} works for every municipality.",
        "Një {} punon për çdo komunë.",
        "Uloga {} radi za sve opštine.",
    ),
    (
        "Only admins can give the {} role.",
        "Vetëm administratorët mund të japin rolin {}.",
        "Samo administratori mogu dodeliti ulogu {}.",
    ),
    (
        "Managers can only give access to their own municipalities.",
        "Menaxherët mund të japin qasje vetëm në komunat e tyre.",
        "Menadžeri mogu dati pristup samo svojim opštinama.",
    ),
    (
        "An account with this email exists.",
        "Ekziston një llogari me këtë email.",
        "Nalog sa ovom email adresom već postoji.",
    ),
    ("Taken.", "I zënë.", "Zauzeto."),
    (
        "No staff account with this id in your municipalities.",
        "Asnjë llogari stafi me këtë id në komunat tuaja.",
        "Nema naloga osoblja sa ovim id-om u vašim opštinama.",
    ),
    (
        "You cannot deactivate yourself or change your own role.",
        "Nuk mund ta çaktivizoni veten ose të ndryshoni rolin tuaj.",
        "Ne možete deaktivirati sebe niti promeniti sopstvenu ulogu.",
    ),
    (
        "This is not your current password.",
        "Ky nuk është fjalëkalimi juaj aktual.",
        "Ovo nije vaša trenutna lozinka.",
    ),
    (
        "Must differ from the current password.",
        "Duhet të ndryshojë nga fjalëkalimi aktual.",
        "Mora se razlikovati od trenutne lozinke.",
    ),
    (
        "This refresh token is not valid; sign in again.",
        "Ky token rifreskimi nuk është i vlefshëm; identifikohuni përsëri.",
        "Ovaj token za osvežavanje nije važeći; prijavite se ponovo.",
    ),
    (
        "This refresh token was already used; sign in again.",
        "Ky token rifreskimi është përdorur tashmë; identifikohuni përsëri.",
        "Ovaj token za osvežavanje je već korišćen; prijavite se ponovo.",
    ),
    (
        "Personal tokens can only be made from a signed-in session.",
        "Tokenat personalë mund të krijohen vetëm nga një seancë e identifikuar.",
        "Lični tokeni se mogu napraviti samo iz prijavljene sesije.",
    ),
    ("Unknown scopes: {}.", "Leje të panjohura: {}.", "Nepoznata ovlašćenja: {}."),
    (
        "Your role does not have: {}.",
        "Roli juaj nuk ka: {}.",
        "Vaša uloga nema: {}.",
    ),
    ("Must be at most {}.", "Duhet të jetë të shumtën {}.", "Mora biti najviše {}."),
    (
        "You have no personal token with this id.",
        "Nuk keni token personal me këtë id.",
        "Nemate lični token sa ovim id-om.",
    ),
    (
        "This needs the {} permission, which your role or token lacks.",
        "Kjo kërkon lejen {}, të cilën roli ose tokeni juaj nuk e ka.",
        "Za ovo je potrebno ovlašćenje {}, koje vaša uloga ili token nemaju.",
    ),
    # devices and push
    (
        "No device matches this id and secret.",
        "Asnjë pajisje nuk përputhet me këtë id dhe sekret.",
        "Nijedan uređaj ne odgovara ovom id-u i tajni.",
    ),
    (
        "This token was registered by another request just now; retry.",
        "Ky token sapo u regjistrua nga një kërkesë tjetër; provoni përsëri.",
        "Ovaj token je upravo registrovan drugim zahtevom; pokušajte ponovo.",
    ),
    ("Unknown municipality {}.", "Komunë e panjohur {}.", "Nepoznata opština {}."),
    (
        "Some subscriptions name unknown municipalities or categories.",
        "Disa abonime përmendin komuna ose kategori të panjohura.",
        "Neke pretplate navode nepoznate opštine ili kategorije.",
    ),
    (
        "At most {} municipality and category pairs.",
        "Të shumtën {} çifte komune dhe kategorie.",
        "Najviše {} parova opštine i kategorije.",
    ),
    (
        "A device can follow at most {} reports.",
        "Një pajisje mund të ndjekë të shumtën {} raporte.",
        "Uređaj može pratiti najviše {} prijava.",
    ),
    (
        "Must be printable ASCII without spaces (an FCM token).",
        "Duhet të jetë ASCII i shtypshëm pa hapësira (një token FCM).",
        "Mora biti ASCII koji se može ispisati, bez razmaka (FCM token).",
    ),
    (
        "Send at least one of fcm_token, token_type, platform, locale.",
        "Dërgoni të paktën një nga fcm_token, token_type, platform, locale.",
        "Pošaljite bar jedno od fcm_token, token_type, platform, locale.",
    ),
    # announcements
    ("Must not be empty.", "Nuk duhet të jetë bosh.", "Ne sme biti prazno."),
    (
        "Give the text in at least one of sq, sr, en.",
        "Jepni tekstin në të paktën një nga sq, sr, en.",
        "Navedite tekst na bar jednom od sq, sr, en.",
    ),
    (
        "Title and body must be in the same languages (title: {}; body: {}).",
        "Titulli dhe teksti duhet të jenë në të njëjtat gjuhë (titulli: {}; teksti: {}).",
        "Naslov i tekst moraju biti na istim jezicima (naslov: {}; tekst: {}).",
    ),
    (
        "Each position must be [lon, lat] (two or three numbers).",
        "Çdo pozicion duhet të jetë [lon, lat] (dy ose tre numra).",
        "Svaka pozicija mora biti [lon, lat] (dva ili tri broja).",
    ),
    (
        "A polygon must be a non-empty list of linear rings.",
        "Një poligon duhet të jetë listë jo bosh unazash lineare.",
        "Poligon mora biti neprazna lista linearnih prstenova.",
    ),
    (
        "Each linear ring must have at least four positions.",
        "Çdo unazë lineare duhet të ketë të paktën katër pozicione.",
        "Svaki linearni prsten mora imati bar četiri pozicije.",
    ),
    (
        "Each linear ring must end where it starts.",
        "Çdo unazë lineare duhet të mbarojë aty ku fillon.",
        "Svaki linearni prsten mora da se završi gde počinje.",
    ),
    (
        "Must be a GeoJSON Polygon or MultiPolygon.",
        "Duhet të jetë GeoJSON Polygon ose MultiPolygon.",
        "Mora biti GeoJSON Polygon ili MultiPolygon.",
    ),
    (
        "Must have non-empty coordinates.",
        "Duhet të ketë koordinata jo bosh.",
        "Mora imati neprazne koordinate.",
    ),
    ("Not a valid area: {}.", "Nuk është zonë e vlefshme: {}.", "Nije ispravna oblast: {}."),
    (
        "The area does not overlap the municipality {}.",
        "Zona nuk mbivendoset me komunën {}.",
        "Oblast se ne preklapa sa opštinom {}.",
    ),
    (
        "Must not be in the past; leave it out to publish now.",
        "Nuk duhet të jetë në të kaluarën; lëreni bosh për ta publikuar tani.",
        "Ne sme biti u prošlosti; izostavite ga da biste odmah objavili.",
    ),
    (
        "expires_at must be later than publish_at.",
        "expires_at duhet të jetë pas publish_at.",
        "expires_at mora biti posle publish_at.",
    ),
    (
        "You can only post announcements for your own municipalities.",
        "Mund të postoni njoftime vetëm për komunat tuaja.",
        "Obaveštenja možete objavljivati samo za svoje opštine.",
    ),
    (
        "No announcement with this id in your municipalities.",
        "Asnjë njoftim me këtë id në komunat tuaja.",
        "Nema obaveštenja sa ovim id-om u vašim opštinama.",
    ),
    (
        "This announcement was withdrawn; it cannot be edited.",
        "Ky njoftim është tërhequr; nuk mund të ndryshohet.",
        "Ovo obaveštenje je povučeno; ne može se menjati.",
    ),
    (
        "Already published: withdraw it and post a new one instead.",
        "Është publikuar tashmë: tërhiqeni dhe postoni një të ri.",
        "Već je objavljeno: povucite ga i objavite novo.",
    ),
    (
        "No published announcement with this id in this municipality.",
        "Asnjë njoftim i publikuar me këtë id në këtë komunë.",
        "Nema objavljenog obaveštenja sa ovim id-om u ovoj opštini.",
    ),
    # triage
    (
        "No report with this id in your municipalities.",
        "Asnjë raport me këtë id në komunat tuaja.",
        "Nema prijave sa ovim id-om u vašim opštinama.",
    ),
    (
        "No report with this id in your scope.",
        "Asnjë raport me këtë id në fushën tuaj.",
        "Nema prijave sa ovim id-om u vašem delokrugu.",
    ),
    (
        "Only allowed together with a status change.",
        "Lejohet vetëm bashkë me një ndryshim statusi.",
        "Dozvoljeno samo uz promenu statusa.",
    ),
    (
        "Must be an active staff member of the report's municipality.",
        "Duhet të jetë anëtar aktiv i stafit të komunës së raportit.",
        "Mora biti aktivni član osoblja opštine prijave.",
    ),
    (
        "A {} report cannot become {}.",
        "Një raport {} nuk mund të bëhet {}.",
        "Prijava u statusu {} ne može preći u {}.",
    ),
    (
        "Only allowed with the status duplicate.",
        "Lejohet vetëm me statusin duplicate.",
        "Dozvoljeno samo uz status duplicate.",
    ),
    (
        "Required when the status is duplicate.",
        "I detyrueshëm kur statusi është duplicate.",
        "Obavezno kada je status duplicate.",
    ),
    (
        "A report cannot duplicate itself.",
        "Një raport nuk mund të jetë dublikatë i vetes.",
        "Prijava ne može biti duplikat same sebe.",
    ),
    (
        "No active template for this category.",
        "Asnjë shabllon aktiv për këtë kategori.",
        "Nema aktivnog šablona za ovu kategoriju.",
    ),
    (
        "Say why the description is hidden.",
        "Thoni pse përshkrimi është fshehur.",
        "Navedite zašto je opis sakriven.",
    ),
    (
        "The report changed since you read it; reload it and try again.",
        "Raporti ndryshoi që kur e lexuat; ringarkojeni dhe provoni përsëri.",
        "Prijava se promenila otkako ste je pročitali; osvežite je i pokušajte ponovo.",
    ),
    (
        "No response template has this id.",
        "Asnjë shabllon përgjigjeje nuk ka këtë id.",
        "Nijedan šablon odgovora nema ovaj id.",
    ),
    (
        "Must be four numbers: west,south,east,north.",
        "Duhet të jenë katër numra: perëndim,jug,lindje,veri.",
        "Moraju biti četiri broja: zapad,jug,istok,sever.",
    ),
    (
        "Must satisfy -180 <= west < east <= 180, -90 <= south < north <= 90.",
        "Duhet të plotësojë -180 <= west < east <= 180, -90 <= south < north <= 90.",
        "Mora važiti -180 <= west < east <= 180, -90 <= south < north <= 90.",
    ),
    (
        "Must be after submitted_from.",
        "Duhet të jetë pas submitted_from.",
        "Mora biti posle submitted_from.",
    ),
    (
        "Send at least one of status, assignee_id, priority.",
        "Dërgoni të paktën një nga status, assignee_id, priority.",
        "Pošaljite bar jedno od status, assignee_id, priority.",
    ),
    (
        "Send either message or template_id.",
        "Dërgoni ose message ose template_id.",
        "Pošaljite ili message ili template_id.",
    ),
    ("Missing languages: {}.", "Mungojnë gjuhët: {}.", "Nedostaju jezici: {}."),
    # audit and analytics
    ("Must be later than since.", "Duhet të jetë pas since.", "Mora biti posle since."),
    ("Must not be before from.", "Nuk duhet të jetë para from.", "Ne sme biti pre from."),
    (
        "Give both from and to, or neither.",
        "Jepni edhe from edhe to, ose asnjërin.",
        "Navedite i from i to, ili nijedno.",
    ),
    (
        "Differentially private releases need a researcher token.",
        "Publikimet me privatësi diferenciale kërkojnë token studiuesi.",
        "Objave sa diferencijalnom privatnošću zahtevaju token istraživača.",
    ),
    (
        "Public series are monthly: finer periods could reveal withheld counts by subtraction. "
        "Day and week need a researcher token.",
        "Seritë publike janë mujore: periudhat më të imta mund të zbulonin numrat e fshehur me "
        "zbritje. Dita dhe java kërkojnë token studiuesi.",
        "Javne serije su mesečne: kraći periodi bi oduzimanjem mogli otkriti uskraćene brojeve. "
        "Dan i nedelja zahtevaju token istraživača.",
    ),
    ("No such tile: {}.", "Nuk ka pllakë të tillë: {}.", "Nema takve pločice: {}."),
    # OGC API
    (
        "{} is not a valid date.",
        "{} nuk është datë e vlefshme.",
        "{} nije ispravan datum.",
    ),
    (
        "{} is not a valid date-time.",
        "{} nuk është datë e orë e vlefshme.",
        "{} nije ispravan datum i vreme.",
    ),
    (
        "{} is not an RFC 3339 date-time with a time zone (e.g. 2026-01-01T00:00:00Z) or a "
        "date (2026-01-01).",
        "{} nuk është datë e orë RFC 3339 me zonë kohore (p.sh. 2026-01-01T00:00:00Z) ose "
        "datë (2026-01-01).",
        "{} nije RFC 3339 datum i vreme sa vremenskom zonom (npr. 2026-01-01T00:00:00Z) ni "
        "datum (2026-01-01).",
    ),
    (
        "An interval has one slash: start/end (.. for open).",
        "Një interval ka një vijë të pjerrët: fillim/fund (.. për të hapur).",
        "Interval ima jednu kosu crtu: početak/kraj (.. za otvoren).",
    ),
    (
        "Give an instant, or an interval start/end.",
        "Jepni një çast, ose një interval fillim/fund.",
        "Navedite trenutak ili interval početak/kraj.",
    ),
    (
        "The interval ends before it starts.",
        "Intervali mbaron para se të fillojë.",
        "Interval se završava pre nego što počinje.",
    ),
    (
        "Must be four numbers west,south,east,north (or six, with heights).",
        "Duhet të jenë katër numra perëndim,jug,lindje,veri (ose gjashtë, me lartësi).",
        "Moraju biti četiri broja zapad,jug,istok,sever (ili šest, sa visinama).",
    ),
    (
        "Must be numbers: west,south,east,north.",
        "Duhet të jenë numra: perëndim,jug,lindje,veri.",
        "Moraju biti brojevi: zapad,jug,istok,sever.",
    ),
    ("Not a bounding box: {}.", "Nuk është kuti kufizuese: {}.", "Nije granični okvir: {}."),
    ("Unknown categories: {}.", "Kategori të panjohura: {}.", "Nepoznate kategorije: {}."),
    ("Unknown groups: {}.", "Grupe të panjohura: {}.", "Nepoznate grupe: {}."),
    (
        "Sensitive categories are never published as points: {}.",
        "Kategoritë e ndjeshme nuk publikohen kurrë si pika: {}.",
        "Osetljive kategorije se nikad ne objavljuju kao tačke: {}.",
    ),
    (
        "These groups hold only sensitive categories, which are never published as points: {}.",
        "Këto grupe kanë vetëm kategori të ndjeshme, që nuk publikohen kurrë si pika: {}.",
        "Ove grupe sadrže samo osetljive kategorije, koje se nikad ne objavljuju kao tačke: {}.",
    ),
    (
        "Only JSON is served: use f=json or leave f out (there is no HTML view).",
        "Shërbehet vetëm JSON: përdorni f=json ose hiqeni f (nuk ka pamje HTML).",
        "Služi se samo JSON: koristite f=json ili izostavite f (nema HTML prikaza).",
    ),
    (
        "Only {} (WGS 84 longitude, latitude) is served.",
        "Shërbehet vetëm {} (WGS 84 gjatësi, gjerësi).",
        "Služi se samo {} (WGS 84 dužina, širina).",
    ),
    (
        "The collection {} has no such feature.",
        "Koleksioni {} nuk ka një objekt të tillë.",
        "Kolekcija {} nema takav objekat.",
    ),
    # Indicators and reporter feedback
    (
        "The indicators are being computed; try again shortly.",
        "Treguesit po llogariten; provoni përsëri pas pak.",
        "Pokazatelji se izračunavaju; pokušajte ponovo uskoro.",
    ),
    (
        "Feedback is for resolved or rejected reports; this one is {}.",
        "Vlerësimi jepet për raporte të zgjidhura ose të refuzuara; ky është {}.",
        "Ocena se daje za rešene ili odbijene prijave; ova je {}.",
    ),
    (
        "This report already has your feedback.",
        "Ky raport e ka tashmë vlerësimin tuaj.",
        "Ova prijava već ima vašu ocenu.",
    ),
    (
        "No municipality in your reach has the slug {}.",
        "Asnjë komunë në qasjen tuaj nuk ka identifikuesin {}.",
        "Nijedna opština u vašem delokrugu nema oznaku {}.",
    ),
    (
        "Use a month (2026-07), a quarter (2026-Q3), a year (2026) or whole months "
        "(2026-01..2026-05).",
        "Përdorni një muaj (2026-07), një tremujor (2026-Q3), një vit (2026) ose muaj të "
        "plotë (2026-01..2026-05).",
        "Koristite mesec (2026-07), tromesečje (2026-Q3), godinu (2026) ili cele mesece "
        "(2026-01..2026-05).",
    ),
    (
        "A period ends after it starts.",
        "Një periudhë mbaron pasi fillon.",
        "Period se završava posle početka.",
    ),
    (
        "A period spans at most {} months.",
        "Një periudhë përfshin të shumtën {} muaj.",
        "Period obuhvata najviše {} meseci.",
    ),
    (
        "Periods start in {} or later.",
        "Periudhat fillojnë në {} ose më vonë.",
        "Periodi počinju {} ili kasnije.",
    ),
    # Releases and researchers' differentially private answers
    (
        "No release has this id (see /v1/releases).",
        "Asnjë publikim nuk ka këtë id (shih /v1/releases).",
        "Nijedno objavljivanje nema ovaj id (vidi /v1/releases).",
    ),
    (
        "No release has this id (a month, YYYY-MM).",
        "Asnjë publikim nuk ka këtë id (një muaj, YYYY-MM).",
        "Nijedno objavljivanje nema ovaj id (mesec, YYYY-MM).",
    ),
    (
        "This needs the analytics:read permission, which your token lacks.",
        "Kjo kërkon lejen analytics:read, të cilën tokeni juaj nuk e ka.",
        "Za ovo je potrebna dozvola analytics:read, koju vaš token nema.",
    ),
    (
        "Differentially private answers need a researcher token.",
        "Përgjigjet me privatësi diferenciale kërkojnë një token studiuesi.",
        "Odgovori sa diferencijalnom privatnošću zahtevaju token istraživača.",
    ),
    (
        "Public series and sensitive categories are monthly: finer periods could reveal"
        " withheld counts by subtraction. Day and week need a researcher token and"
        " non-sensitive categories.",
        "Seritë publike dhe kategoritë e ndjeshme janë mujore: periudhat më të imta mund të"
        " zbulonin me zbritje numrat e mbajtur. Dita dhe java kërkojnë një token studiuesi dhe"
        " kategori jo të ndjeshme.",
        "Javne serije i osetljive kategorije su mesečne: kraći periodi bi oduzimanjem mogli"
        " otkriti zadržane brojeve. Dan i nedelja zahtevaju token istraživača i kategorije"
        " koje nisu osetljive.",
    ),
    (
        "DP answers cover closed whole months: give from and to.",
        "Përgjigjet DP mbulojnë muaj të plotë të mbyllur: jepni from dhe to.",
        "DP odgovori pokrivaju cele zatvorene mesece: navedite from i to.",
    ),
    (
        "DP answers cover closed months only; {} closes on {}.",
        "Përgjigjet DP mbulojnë vetëm muaj të mbyllur; {} mbyllet më {}.",
        "DP odgovori pokrivaju samo zatvorene mesece; {} se zatvara {}.",
    ),
    (
        "This answer needs epsilon {}, which would exceed your account's privacy budget for"
        " this quarter ({} of {} spent). Identical questions are free: they get the stored"
        " answer. It renews on {}.",
        "Kjo përgjigje kërkon epsilon {}, që do të tejkalonte buxhetin e privatësisë së"
        " llogarisë suaj për këtë tremujor ({} nga {} të shpenzuara). Pyetjet identike janë"
        " falas: marrin përgjigjen e ruajtur. Ripërtërihet më {}.",
        "Ovaj odgovor zahteva epsilon {}, čime bi se premašio budžet privatnosti vašeg naloga"
        " za ovo tromesečje ({} od {} potrošeno). Ista pitanja su besplatna: dobijaju sačuvani"
        " odgovor. Obnavlja se {}.",
    ),
    (
        "This answer needs epsilon {}, which would exceed the service's overall privacy budget"
        " for this quarter ({} of {} spent). Identical questions are free: they get the stored"
        " answer. It renews on {}.",
        "Kjo përgjigje kërkon epsilon {}, që do të tejkalonte buxhetin e përgjithshëm të"
        " privatësisë së shërbimit për këtë tremujor ({} nga {} të shpenzuara). Pyetjet"
        " identike janë falas: marrin përgjigjen e ruajtur. Ripërtërihet më {}.",
        "Ovaj odgovor zahteva epsilon {}, čime bi se premašio ukupni budžet privatnosti servisa"
        " za ovo tromesečje ({} od {} potrošeno). Ista pitanja su besplatna: dobijaju sačuvani"
        " odgovor. Obnavlja se {}.",
    ),
]


@lru_cache(maxsize=1)
def _compiled():
    exact, patterns = {}, []
    for english, sq, sr in CATALOGUE:
        texts = {"sq": sq, "sr": sr}
        if "{}" in english:
            regex = re.escape(english).replace(r"\{\}", "(.+?)")
            patterns.append((re.compile(regex, re.DOTALL), texts))
        else:
            exact[english] = texts
    # Longer templates first: the most specific one wins.
    patterns.sort(key=lambda item: -len(item[0].pattern))
    return exact, patterns


def translate_message(message: str, locale: str) -> str:
    """`message` in `locale` ("sq" or "sr"); unknown messages stay as they are."""
    exact, patterns = _compiled()
    if message in exact:
        return exact[message].get(locale, message)
    for regex, texts in patterns:
        match = regex.fullmatch(message)
        if match:
            return texts.get(locale, message).format(*match.groups())
    return message
