"""Announcements: the staff API to post them and the public, localised feed."""

from flask import url_for
from flask.views import MethodView

from civic_api.announcements import service
from civic_api.announcements.schemas import (
    AnnouncementCreateSchema,
    AnnouncementQueryArgsSchema,
    AnnouncementSchema,
    AnnouncementUpdateSchema,
    FeedQueryArgsSchema,
    PublicAnnouncementSchema,
)
from civic_api.database import session
from civic_api.extensions import Blueprint, LanguageArgsSchema, With, page_of
from civic_api.i18n import current_locale
from civic_api.staff.auth import current_principal
from civic_api.staff.service import utcnow

blp = Blueprint(
    "announcements",
    __name__,
    url_prefix="/v1",
    description="Updates from the municipality to its citizens: a public, localised feed, "
    "and the staff API that posts them.",
)

ANNOUNCEMENT_EXAMPLE = {
    "municipality": "prishtina",
    "title": {"sq": "Ndërprerje e ujit", "en": "Water cut"},
    "body": {
        "sq": "Nesër nga ora 9 deri në 14 nuk do të ketë ujë në lagjen Dardania.",
        "en": "Tomorrow from 9:00 to 14:00 there will be no water in Dardania.",
    },
    "category": "water_sewage",
    "area": {
        "type": "Polygon",
        "coordinates": [
            [[21.15, 42.65], [21.18, 42.65], [21.18, 42.67], [21.15, 42.67], [21.15, 42.65]]
        ],
    },
}


def for_staff(announcement, now):
    return With(announcement, state=service.state_of(announcement, now))


def for_public(announcement):
    return With(announcement, **service.localised(announcement, current_locale()))


@blp.route("/admin/announcements")
class AnnouncementsView(MethodView):
    @blp.auth("announcements:write")
    @blp.arguments(AnnouncementQueryArgsSchema, location="query")
    @blp.response(200, AnnouncementSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List announcements (managers: their municipalities'), newest first"""
        now = utcnow()
        query = service.staff_list_query(current_principal(), now, **args)
        return [for_staff(a, now) for a in page_of(query, pagination_parameters)]

    @blp.auth("announcements:write")
    @blp.arguments(AnnouncementCreateSchema, example=ANNOUNCEMENT_EXAMPLE)
    @blp.response(201, AnnouncementSchema)
    @blp.alt_response(422, description="Invalid announcement; errors name the field")
    def post(self, data):
        """Post an announcement, now or scheduled; its push goes out at publish_at"""
        now = utcnow()
        announcement = service.create_announcement(current_principal(), now, **data)
        session.commit()
        location = url_for("announcements.AnnouncementByIdView", announcement_id=announcement.id)
        return for_staff(announcement, now), {"Location": location}


@blp.route("/admin/announcements/<int:announcement_id>")
class AnnouncementByIdView(MethodView):
    @blp.auth("announcements:write")
    @blp.response(200, AnnouncementSchema)
    @blp.alt_response(404, description="No such announcement in your municipalities")
    def get(self, announcement_id):
        """Get an announcement in every language, with its state"""
        return for_staff(service.get_for(current_principal(), announcement_id), utcnow())

    @blp.auth("announcements:write")
    @blp.arguments(AnnouncementUpdateSchema)
    @blp.response(200, AnnouncementSchema)
    @blp.alt_response(404, description="No such announcement in your municipalities")
    @blp.alt_response(409, description="The announcement was withdrawn")
    def patch(self, data, announcement_id):
        """Edit an announcement; moving publish_at before publication reschedules its push"""
        now = utcnow()
        announcement = service.update_announcement(current_principal(), announcement_id, data, now)
        session.commit()
        return for_staff(announcement, now)

    @blp.auth("announcements:write")
    @blp.response(204)
    @blp.alt_response(404, description="No such announcement in your municipalities")
    def delete(self, announcement_id):
        """Withdraw an announcement: it leaves the feed and is not pushed; the record stays"""
        service.withdraw_announcement(current_principal(), announcement_id, utcnow())
        session.commit()


@blp.route("/municipalities/<slug>/announcements")
class FeedView(MethodView):
    @blp.arguments(FeedQueryArgsSchema, location="query")
    @blp.response(200, PublicAnnouncementSchema(many=True))
    @blp.alt_response(404, description="No municipality has this slug")
    @blp.paginate()
    def get(self, args, slug, pagination_parameters):
        """A municipality's published announcements, newest first, localised"""
        query = service.feed_query(slug, utcnow(), category=args.get("category"))
        return [for_public(a) for a in page_of(query, pagination_parameters)]


@blp.route("/municipalities/<slug>/announcements/<int:announcement_id>")
class FeedItemView(MethodView):
    @blp.arguments(LanguageArgsSchema, location="query")
    @blp.response(200, PublicAnnouncementSchema)
    @blp.alt_response(404, description="No such published announcement")
    def get(self, args, slug, announcement_id):
        """One published announcement, localised"""
        return for_public(service.get_published(slug, announcement_id, utcnow()))
